/* CUDA graphs for the backend table (dc_backend.graph_run): a fixed sequence of ops is
 * recorded once by stream capture and replayed with one launch, which removes the
 * per-kernel launch cost that dominates steps made of many small kernels. What is
 * recorded is the ops' kernels and copies with their arguments: the same buffers, shapes
 * and scalars on every replay, so callers change only the buffers' contents between
 * replays. Work that waits for the host (downloads, dot, the BatchNorm sums in host
 * memory) or makes a scratch buffer grow cannot be captured: the capture then fails with
 * a message and nothing is kept. While any graph lives, scratch buffers are never freed
 * (a graph holds their addresses). */
#include "backend/cuda/cuda_common.cuh"

extern "C" enum dc_status dc_cuda_graph_run(void (*fn)(void *ctx), void *ctx, void **graph) {
  struct dc_cuda_ctx *c = dc_cuda_context();
  if (*graph == NULL) {
    DC_TRY(dc_cuda_take_error());
    cudaError_t e = cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess)
      return DC_ERROR(DC_ERR_BACKEND, "CUDA graph: cannot begin a capture: %s", cudaGetErrorString(e));
    fn(ctx);
    cudaGraph_t g = NULL;
    e = cudaStreamEndCapture(c->stream, &g);
    enum dc_status st = dc_cuda_take_error();
    if (e != cudaSuccess || st != DC_OK || g == NULL) {
      if (g) cudaGraphDestroy(g);
      cudaGetLastError();
      return DC_ERROR(DC_ERR_BACKEND,
                      "CUDA graph: the capture failed (%s): the recorded ops must not wait for the device or "
                      "allocate; run them once without a graph first",
                      e != cudaSuccess ? cudaGetErrorString(e) : dc_status_name(st));
    }
    cudaGraphExec_t exec = NULL;
    e = cudaGraphInstantiate(&exec, g, 0);
    cudaGraphDestroy(g);
    if (e != cudaSuccess)
      return DC_ERROR(DC_ERR_BACKEND, "CUDA graph: cannot instantiate: %s", cudaGetErrorString(e));
    c->graphs++;
    *graph = exec;
  }
  cudaError_t e = cudaGraphLaunch((cudaGraphExec_t)*graph, c->stream);
  if (e != cudaSuccess) return DC_ERROR(DC_ERR_BACKEND, "CUDA graph: launch failed: %s", cudaGetErrorString(e));
  return DC_OK;
}

extern "C" void dc_cuda_graph_free(void *graph) {
  if (!graph) return;
  DC_CUDA_CHECK(cudaGraphExecDestroy((cudaGraphExec_t)graph), return);
  dc_cuda_context()->graphs--;
}
