/* PNG classification maps decoded back with libpng: image sizes (no legend panel: legends
 * are the report's), palette colours at known pixels of the prediction, truth and error
 * maps, the maps drawn over a false-colour composite (blended classes, error colours on
 * test pixels, the dimmed scene elsewhere), automatic upscaling, the palette's
 * distinctness, and the refusal of a map the result does not hold. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffclip/report/png_map.h"

static int failures = 0;
static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  } else {
    printf("  ok   %s\n", what);
  }
}

struct image {
  int w, h;
  uint8_t *px;
};

static int decode(const char *path, struct image *im) {
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path)) return 0;
  img.format = PNG_FORMAT_RGB;
  im->w = (int)img.width, im->h = (int)img.height;
  im->px = malloc(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, NULL, im->px, 0, NULL)) {
    free(im->px);
    return 0;
  }
  return 1;
}

static int pixel_is(const struct image *im, int x, int y, const uint8_t rgb[3]) {
  const uint8_t *p = im->px + 3 * ((size_t)y * im->w + x);
  return p[0] == rgb[0] && p[1] == rgb[1] && p[2] == rgb[2];
}

/* Pixels of colour rgb in columns [x0, w). */
int main(void) {
  char dir[] = "/tmp/dc_test_png_XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char path[256];

  printf("palette\n");
  uint8_t black[3] = {0, 0, 0}, c[DC_RESULT_MAX_CLASSES + 1][3];
  for (int k = 0; k <= DC_RESULT_MAX_CLASSES; k++) dc_map_class_color(k, c[k]);
  expect(memcmp(c[0], black, 3) == 0, "label 0 is black");
  expect(c[1][0] == 230 && c[1][1] == 159 && c[1][2] == 0, "label 1 is Okabe-Ito orange");
  int distinct = 1;
  for (int a = 0; a <= DC_RESULT_MAX_CLASSES; a++)
    for (int b = a + 1; b <= DC_RESULT_MAX_CLASSES; b++) {
      int d = abs(c[a][0] - c[b][0]) + abs(c[a][1] - c[b][1]) + abs(c[a][2] - c[b][2]);
      if (d < 12) distinct = 0, fprintf(stderr, "  labels %d and %d: distance %d\n", a, b, d);
    }
  expect(distinct, "all 65 colours differ");
  expect(dc_map_auto_scale(40, 64) == 8 && dc_map_auto_scale(349, 1905) == 1 && dc_map_auto_scale(166, 200) == 2,
         "automatic scale");

  /* 6 x 10 scene, 3 classes: truth = 1 + column / 4 (0 in row 0), prediction = truth but
   * class 3 everywhere in row 5, test pixels = rows 3..5 */
  struct dc_result r;
  memset(&r, 0, sizeof r);
  snprintf(r.dataset, sizeof r.dataset, "synth");
  snprintf(r.task, sizeof r.task, "classes");
  r.n_classes = 3, r.height = 6, r.width = 10;
  snprintf(r.class_names[0], 64, "Grass");
  snprintf(r.class_names[1], 64, "Road");
  snprintf(r.class_names[2], 64, "Water");
  int32_t pred[60], truth[60];
  uint8_t test[60];
  for (int y = 0; y < 6; y++)
    for (int x = 0; x < 10; x++) {
      int i = y * 10 + x;
      truth[i] = y == 0 ? 0 : 1 + x / 4;
      pred[i] = y == 5 ? 3 : 1 + x / 4;
      test[i] = y >= 3;
    }
  r.prediction = pred, r.truth = truth, r.test_mask = test;

  printf("prediction map\n");
  struct image im;
  snprintf(path, sizeof path, "%s/pred_plain.png", dir);
  expect(dc_map_png_write(path, &r, DC_MAP_PREDICTION, 3, NULL) == DC_OK, "write");
  expect(decode(path, &im), "decodes");
  expect(im.w == 30 && im.h == 18, "size = scene x 3, no legend panel (legends are the report's)");
  expect(pixel_is(&im, 1, 1, c[1]) && pixel_is(&im, 3 * 4 + 2, 3 * 2 + 2, c[2]) && pixel_is(&im, 29, 7, c[3]),
         "class colours at known pixels");
  expect(pixel_is(&im, 1, 16, c[3]), "row 5 predicted class 3");
  free(im.px);

  printf("truth map\n");
  snprintf(path, sizeof path, "%s/truth.png", dir);
  expect(dc_map_png_write(path, &r, DC_MAP_TRUTH, 0, NULL) == DC_OK, "write (automatic scale)");
  expect(decode(path, &im), "decodes");
  int s = dc_map_auto_scale(6, 10);
  expect(s == 8 && im.w == 10 * s && im.h == 6 * s, "automatically upscaled x8");
  expect(pixel_is(&im, 4, 4, black) && pixel_is(&im, 9 * s + 1, 5 * s + 1, c[3]), "unlabelled black, class 3");
  free(im.px);

  printf("error map\n");
  uint8_t ok_c[3], wrong_c[3], untested_c[3];
  dc_map_error_color(DC_MAP_CORRECT, ok_c);
  dc_map_error_color(DC_MAP_WRONG, wrong_c);
  dc_map_error_color(DC_MAP_UNTESTED, untested_c);
  snprintf(path, sizeof path, "%s/errors.png", dir);
  expect(dc_map_png_write(path, &r, DC_MAP_ERRORS, 2, NULL) == DC_OK, "write");
  expect(decode(path, &im), "decodes");
  expect(pixel_is(&im, 0, 0, black), "unlabelled (row 0) black");
  expect(pixel_is(&im, 2, 2 * 2, untested_c), "labelled, not tested (row 2) grey");
  expect(pixel_is(&im, 2, 3 * 2, ok_c), "tested and right (row 3) green");
  expect(pixel_is(&im, 2, 5 * 2, wrong_c) && pixel_is(&im, 19, 11, ok_c), "row 5: class 1 wrong, class 3 right");
  free(im.px);

  printf("over a false-colour composite\n");
  uint8_t base[60 * 3];
  for (int i = 0; i < 60; i++) base[3 * i] = (uint8_t)(4 * i), base[3 * i + 1] = 200, base[3 * i + 2] = (uint8_t)(250 - 4 * i);
  snprintf(path, sizeof path, "%s/scene.png", dir);
  expect(dc_map_png_write(path, &r, DC_MAP_SCENE, 1, base) == DC_OK && decode(path, &im), "scene composite written");
  int same = 1;
  for (int i = 0; i < 60; i++) same &= pixel_is(&im, i % 10, i / 10, base + 3 * i);
  expect(same && im.w == 10 && im.h == 6, "the composite pixel for pixel");
  free(im.px);
  snprintf(path, sizeof path, "%s/errors_over.png", dir);
  expect(dc_map_png_write(path, &r, DC_MAP_ERRORS, 1, base) == DC_OK && decode(path, &im), "errors over the scene");
  int i00 = 0, i22 = 22; /* row 0 unlabelled, row 2 untested: the scene as grey; rows 3-5 tested: error colours */
  uint8_t g0 = im.px[3 * i00], g2 = im.px[3 * i22];
  expect(im.px[3 * i00 + 1] == g0 && im.px[3 * i00 + 2] == g0 && im.px[3 * i22 + 1] == g2 && g2 > 0 && g2 < 200,
         "untested and unlabelled pixels: the composite, dimmed to grey");
  expect(pixel_is(&im, 2, 3, ok_c) && pixel_is(&im, 2, 5, wrong_c), "test pixels keep the error colours");
  free(im.px);
  snprintf(path, sizeof path, "%s/pred_over.png", dir);
  expect(dc_map_png_write(path, &r, DC_MAP_PREDICTION, 1, base) == DC_OK && decode(path, &im), "prediction over the scene");
  const uint8_t *p1 = im.px + 3 * 11, *b1 = base + 3 * 11; /* (x 1, y 1): class 1 */
  int blended = 1;
  for (int k = 0; k < 3; k++) blended &= abs((int)p1[k] - (6 * c[1][k] + 4 * b1[k] + 5) / 10) <= 1;
  expect(blended && !pixel_is(&im, 1, 1, c[1]), "classes blended 60/40 with the scene");
  free(im.px);
  expect(dc_map_png_write(path, &r, DC_MAP_SCENE, 1, NULL) == DC_ERR_ARG, "a scene map without a composite refused");

  printf("refusals\n");
  r.prediction = NULL;
  snprintf(path, sizeof path, "%s/none.png", dir);
  expect(dc_map_png_write(path, &r, DC_MAP_ERRORS, 1, NULL) == DC_ERR_ARG && access(path, F_OK) != 0,
         "error map without prediction refused, nothing written");
  expect(dc_map_png_write(path, &r, DC_MAP_PREDICTION, 1, NULL) == DC_ERR_ARG, "prediction map without prediction");
  r.prediction = pred;
  snprintf(path, sizeof path, "%s/no/such/dir.png", dir);
  expect(dc_map_png_write(path, &r, DC_MAP_TRUTH, 1, NULL) == DC_ERR_IO, "unwritable path");

  const char *names[] = {"pred_plain.png", "truth.png", "errors.png", "scene.png", "errors_over.png", "pred_over.png"};
  for (int i = 0; i < 6; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    remove(path);
  }
  expect(rmdir(dir) == 0, "no temporary files left");
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
