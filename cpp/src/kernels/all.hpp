// Pooling kernels, compiled once per instruction set.
//
// This file is included by kernels_baseline.cpp, kernels_avx2.cpp and kernels_avx512.cpp with
// NHWCPOOL_ISA naming a namespace; each translation unit gets its own compiler flags. Everything
// except the two entry points lives in an anonymous namespace, and no standard-library template
// is instantiated here, so the linker can never merge an AVX-512 copy of some inline function
// into baseline code (the ODR hazard PyTorch's native/cpu/README warns about).
//
// Algorithm (README.md, "How it is fast"): one task = one output row (n, oh).
//   1. Vertical pass: reduce the window's in-range input rows, each a contiguous run of W*C
//      elements, into one row buffer. The loop runs over W*C, so it vectorizes for any C.
//   2. Horizontal pass: for each output column, reduce the in-range window columns of the row
//      buffer (vector loop over C). For small C the reduction runs over shifted W*C vectors
//      instead and full windows are then picked out (the "vectorise across W*C" technique from
//      XNNPACK/oneDNN notes in research; PyTorch's channels-last kernel falls to scalar code there).
//   3. Average: divide by the per-window divisor; convert to the output type.
// Float32 shortcuts: small pixels gather whole windows with vector permutes (SmallGather);
// wide pixels have direct per-window kernels (MaxDirect, AvgDirect), and stride-1 windows of
// up to 3x3 slide along the row in registers (slide).
// Max with indices scans taps in row-major order with PyTorch's rule (take v if v > cur or v is
// NaN), so ties give the first tap and several NaNs give the last NaN, exactly like PyTorch.
//
// Layout: one file per strategy or shared piece, in this folder, each included below, in this
// order, inside namespace nhwcpool::NHWCPOOL_ISA and (all but entry.hpp) its anonymous
// namespace. The files are fragments of this one source, not standalone headers: they have no
// namespace or #include of their own and use what the files before them define. That keeps
// one place for the standard and intrinsic headers (never included inside a namespace) and
// the namespace structure, and makes each ISA's translation unit exactly what the former
// single header (kernels_impl.hpp) was, token for token. A new kernel goes into a new file
// here, included where what it uses is defined (usually just before run.hpp).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>

#include "nhwcpool/kernels.hpp"
#include "nhwcpool/parallel.hpp"
#include "nhwcpool/trace.hpp"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#include <immintrin.h>
#endif

#if defined(__F16C__) || (defined(_MSC_VER) && defined(__AVX2__))
#define NHWCPOOL_F16C 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define NHWCPOOL_RESTRICT __restrict__
#elif defined(_MSC_VER)
#define NHWCPOOL_RESTRICT __restrict
#else
#define NHWCPOOL_RESTRICT
#endif

// Kept out of line: called once per row, and inlined they changed GCC 12's inlining and
// register allocation of the per-pixel loops beside them (float16 2x2/s2 average over 128
// channels 1.3x slower from L2).
#if defined(__GNUC__) || defined(__clang__)
#define NHWCPOOL_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define NHWCPOOL_NOINLINE __declspec(noinline)
#else
#define NHWCPOOL_NOINLINE
#endif

// The fused kernels (fused.hpp, fused_zmm.hpp), their vector layer (vec.hpp) and dispatch are
// forced inline into the pixel loops: with the integer and pixel-run kernels in the same file,
// GCC 12 ran out of inlining budget and called max_zmm / avg_zmm (now max_vec / avg_vec) once
// per pixel (AVX-512, 2x2/s2 over (1,56,56,128) from L2: float32 max 22 -> 24 us, float16
// average 13 -> 20 us). avg_vec itself is left to the compiler, which inlines it: forced, the
// float16 average over 128 channels measured 1.2x slower.
#if defined(__GNUC__) || defined(__clang__)
#define NHWCPOOL_ALWAYS_INLINE __attribute__((always_inline))
#else
#define NHWCPOOL_ALWAYS_INLINE
#endif

namespace nhwcpool {
namespace NHWCPOOL_ISA {
namespace {

using i64 = std::int64_t;

#include "float16.hpp"
#include "operators.hpp"
#include "scratch.hpp"
#include "memory.hpp"
#include "rows.hpp"
#include "blocks.hpp"
#include "running.hpp"
#include "small_c_gather.hpp"
#include "row_passes.hpp"
#include "running_vertical.hpp"
#include "argmax_rows.hpp"
#include "divisors.hpp"
#include "slide.hpp"
#include "slide_cols.hpp"
#include "running_fused.hpp"
#include "separable.hpp"
#include "direct_argmax.hpp"
#include "taplist.hpp"
#include "wide.hpp"
#include "vec.hpp"
#include "fused.hpp"
#include "fused_zmm.hpp"
#include "direct.hpp"
#include "image_pairs.hpp"
#include "image_forward.hpp"
#include "global_avg.hpp"
#include "run.hpp"
#include "transpose.hpp"

}  // namespace

#include "entry.hpp"

}  // namespace NHWCPOOL_ISA
}  // namespace nhwcpool
