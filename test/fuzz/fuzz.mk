# fuzz.mk -- the libFuzzer harnesses of test/fuzz, built with clang against
# the library's sources (ASan + UBSan + libFuzzer), apart from the normal
# gcc build. Called by the top Makefile's `fuzz`, `fuzz-smoke` and
# `fuzz-long` targets, which pass:
#   SRCDIR     the source tree
#   LIB_SRCS   the library's C sources (relative to SRCDIR)
#   FZ_CPPFLAGS the preprocessor flags of the normal build (config.h, include
#              paths of the dependencies)
#   FZ_LIBS    the libraries the library links
# Everything goes to fuzz-build/ in the build tree. OpenMP is left out
# (the parsers do not use it; libomp under ASan only adds noise).
CLANG ?= clang
FZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all
FZ_CFLAGS = -g -O1 -std=gnu11 -fno-omit-frame-pointer $(FZ_SAN) -Wno-unknown-pragmas \
	-DSL_FUZZ_TEMPLATE_DIR='"$(abspath fuzz-build/templates)"'
OBJ = fuzz-build/obj
HARNESSES = config idx calib_args runlog recording charac twin calibfile nir shd modelnet dataset
FUZZERS = $(patsubst %,fuzz-build/fuzz_%,$(HARNESSES))
LIB_OBJS = $(patsubst %.c,$(OBJ)/%.o,$(filter %.c,$(LIB_SRCS)))

all: $(FUZZERS)

$(OBJ)/%.o: $(SRCDIR)/%.c
	@mkdir -p $(dir $@)
	@echo "  CLANG    $<"
	@$(CLANG) $(FZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP $(FZ_CPPFLAGS) -c $< -o $@

fuzz-build/libslfuzz.a: $(LIB_OBJS)
	@rm -f $@
	@echo "  AR       $@"
	@ar rcs $@ $(LIB_OBJS)

fuzz-build/fuzz_%: $(OBJ)/test/fuzz/fuzz_%.o $(OBJ)/test/fuzz/h5mut.o fuzz-build/libslfuzz.a
	@echo "  LINK     $@"
	@$(CLANG) $(FZ_CFLAGS) -fsanitize=fuzzer $^ $(FZ_LIBS) -o $@

.PHONY: all
-include $(LIB_OBJS:.o=.d) $(patsubst %,$(OBJ)/test/fuzz/fuzz_%.d,$(HARNESSES))
.SECONDARY:
