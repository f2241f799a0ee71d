# cloudlet - one non-recursive Makefile.
#
#   make            build build/cloudlet
#   make run        install what is missing, build, deploy web/dist, serve on :8080
#   make test       install what is missing, build, run every test suite
#   make asan/ubsan unit tests under AddressSanitizer / UndefinedBehaviorSanitizer
#   make bench      side-by-side benchmarks (bench/results/)
#   make format     clang-format every C file
#
# Objects go under $(BUILD)/ (build/, build-asan/, build-ubsan/), with -MMD
# dependency files next to them.

CC ?= gcc
BUILD ?= build
OPT ?= -O2
SAN ?=
PKGS := libmicrohttpd lmdb jansson libcrypto libjwt libargon2 libzip

# Recursive (=) on purpose: pkg-config runs when a recipe needs the flags,
# which is after the `deps` prerequisite has installed the packages.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS)) -lpthread
SANFLAGS := $(if $(SAN),-fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all,)
CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
         -MMD -MP -I. $(SANFLAGS) $(PKG_CFLAGS)
LDFLAGS = $(SANFLAGS)

MODULES := common storage auth sts functions server
LIB_SRCS := $(filter-out server/main.c,$(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/server/main.o
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all run test unit integration e2e web asan ubsan bench format clean deps deps-apt deps-npm

# Example functions that need building: shout is a custom runtime in C.
SHOUT := functions/examples/shout/bootstrap
LAMBDA_RT := functions/runtimes/c/lambda_runtime.c

all: deps-apt $(BUILD)/cloudlet $(SHOUT)

# ---- installing what is missing (Debian 12) ----
APT_PKGS := gcc make pkg-config libmicrohttpd-dev libssl-dev libjwt-dev libjansson-dev \
            liblmdb-dev libargon2-dev libcmocka-dev libzip-dev nginx wrk chromium curl \
            awscli python3-boto3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

deps: deps-apt deps-npm

deps-apt:
	@missing=$$(for p in $(APT_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done; \
	    command -v node >/dev/null || echo nodejs npm); \
	if [ -n "$$missing" ]; then \
	    echo "make: installing Debian packages:" $$missing; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

deps-npm: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json | deps-apt
	npm ci --no-audit --no-fund

# ---- build ----
$(BUILD)/cloudlet: $(MAIN_OBJ) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/%.o: %.c | deps-apt
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The C runtime library is the functions' code, not the server's: shout and
# its unit test link it directly.
$(SHOUT): functions/examples/shout/main.c functions/examples/shout/shout.c \
          functions/examples/shout/shout.h $(LAMBDA_RT) functions/runtimes/c/lambda_runtime.h | deps-apt
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Ifunctions/runtimes/c -o $@ \
	    functions/examples/shout/main.c functions/examples/shout/shout.c $(LAMBDA_RT)

$(BUILD)/tests/test_lambda_runtime: tests/unit/test_lambda_runtime.c $(LAMBDA_RT) \
        functions/runtimes/c/lambda_runtime.h functions/examples/shout/shout.c \
        functions/examples/shout/shout.h | deps-apt
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ifunctions/runtimes/c -o $@ $< $(LAMBDA_RT) $(LDFLAGS) -lpthread -lcmocka

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) | deps-apt
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDFLAGS) $(PKG_LIBS) -lcmocka

# ---- the client app: web/src bundled by esbuild into web/dist ----
WEB_SRCS := $(shell find web/src -type f 2>/dev/null) web/build.mjs
web: web/dist/index.html
web/dist/index.html: $(WEB_SRCS) node_modules/.package-lock.json
	node web/build.mjs

# ---- run ----
LISTEN ?= 127.0.0.1:8080
DATA ?= var
run: deps $(BUILD)/cloudlet $(SHOUT) web/dist/index.html
	@mkdir -p $(DATA)
	$(BUILD)/cloudlet site deploy web/dist --data $(DATA)
	@echo "cloudlet: serving http://$(LISTEN)/ (Ctrl-C to stop)"
	exec $(BUILD)/cloudlet serve --listen $(LISTEN) --data $(DATA)

# ---- tests ----
# tests/run.sh runs each suite, sums the counts and prints "N passed, N failed" last.
test: deps $(BUILD)/cloudlet $(SHOUT) web/dist/index.html $(UNIT_BINS)
	@BUILD=$(BUILD) tests/run.sh all

unit: deps-apt $(UNIT_BINS)
	@BUILD=$(BUILD) tests/run.sh unit

integration: deps $(BUILD)/cloudlet $(SHOUT)
	@BUILD=$(BUILD) tests/run.sh integration

e2e: deps $(BUILD)/cloudlet $(SHOUT) web/dist/index.html
	@BUILD=$(BUILD) tests/run.sh e2e

asan:
	$(MAKE) BUILD=build-asan SAN=address OPT=-O1 unit

ubsan:
	$(MAKE) BUILD=build-ubsan SAN=undefined OPT=-O1 unit

# ---- benchmarks (not tests: numbers go to bench/results/) ----
.PHONY: deps-bench
# Peers that only the benchmarks use (cognito-local): a separate npm project.
deps-bench: bench/node_modules/.package-lock.json
bench/node_modules/.package-lock.json: bench/package.json bench/package-lock.json | deps-apt
	npm ci --prefix bench --no-audit --no-fund

bench: deps deps-bench $(BUILD)/cloudlet $(SHOUT)
	bench/static.sh $(BUILD)/cloudlet
	bench/auth.sh $(BUILD)/cloudlet
	BUILD=$(BUILD) bench/sigv4.sh
	bench/signed.sh $(BUILD)/cloudlet
	bench/s3.sh $(BUILD)/cloudlet
	bench/lambda.sh $(BUILD)/cloudlet

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-ubsan $(SHOUT) web/dist

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
