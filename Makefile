# diffclip: the two commands of the quick start, and a few more.
#   make run    installs what is missing, builds, runs the built-in demo on $(NP) MPI ranks
#   make test   installs what is missing, builds, runs every test through ctest
#   make bench  the speed benchmark at the paper's sizes (GPU when one is present, else CPU; not a test)
BUILD_DIR ?= build
CMAKE_FLAGS ?=
NP ?= 2
JOBS ?= $(shell nproc)
# OpenMP threads per rank: the cores shared among the ranks of this machine.
THREADS ?= $(shell n=$$(nproc); t=$$((n / $(NP))); [ $$t -ge 1 ] && echo $$t || echo 1)

# Open MPI refuses root unless told; harmless for a normal user.
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
MPIRUN = mpirun --oversubscribe --bind-to none -np $(NP) -x OMP_NUM_THREADS=$(THREADS)

.PHONY: all deps configure build run test bench clean

all: build

deps:
	@jobs/setup-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(MPIRUN) $(BUILD_DIR)/diffclip bench --config configs/experiments/demo.cfg

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure

bench: build
	$(BUILD_DIR)/diffclip bench-speed

clean:
	rm -rf $(BUILD_DIR)
