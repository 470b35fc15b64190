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

#include "prelude.hpp"  // standard and intrinsic headers, NHWCPOOL_RESTRICT and the other macros

#include "nhwcpool/kernels.hpp"
#include "nhwcpool/parallel.hpp"
#include "nhwcpool/trace.hpp"

namespace nhwcpool {
namespace NHWCPOOL_ISA {
namespace {

using i64 = std::int64_t;

#include "float16.hpp"
#include "operators.hpp"
#include "scratch.hpp"
#include "memory.hpp"
#include "rounding.hpp"
#include "rows.hpp"
#include "blocks.hpp"
#include "vec.hpp"
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
#include "fused.hpp"
#include "fused_int.hpp"
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
