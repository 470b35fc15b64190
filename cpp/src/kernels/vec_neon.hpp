// Vec<float, 4> and Vec<double, 2>: the vector layer of vec.hpp for aarch64 (NEON, float32x4_t
// and float64x2_t), with the operations Vec<float, 16> / Vec<float, 8> and Vec<double, 8> /
// Vec<double, 4> have there and the same results bit for bit.
// Advanced SIMD is part of ARMv8-A, so this is the aarch64 baseline build's layer (the level
// show_config() names "neon"); there is no run-time detection. A register block is 8 vectors,
// 32 floats (kBlockBytes = 128 in blocks.hpp); AArch64 has 32 vector registers, so 8
// accumulators leave room for the loads.
//
// Part of the per-ISA kernel source: included only by vec.hpp (for kernels/all.hpp), inside
// namespace nhwcpool::NHWCPOOL_ISA and its anonymous namespace; <arm_neon.h> is included by
// prelude.hpp (with NHWCPOOL_NEON).
//
// Where NEON differs from x86 and what is done about it:
//  * max: FMAX/FMAXNM (vmaxq_f32, vmaxnmq_f32) return the other operand or the default NaN on
//    NaN, and +0 for max(-0, +0) in either order; x86 maxps returns its second operand. Neither
//    is MaxOp's rule, so max is compare-and-select: x where x > acc or x is NaN, else acc
//    (FCMGT, FCMEQ x x, ORN, BSL: four instructions).
//  * float16: FCVTL (vcvt_f32_f16) widens exactly and quiets a signalling NaN keeping its
//    payload; FCVTN (vcvt_f16_f32) rounds by FPCR's mode (round to nearest even, the Linux
//    default) and makes a NaN the quiet NaN with the float's top payload bits, as vcvtps2ph and
//    float_to_half in float16.hpp do (FPCR.DN, default NaN, is off by default; FZ16 does not
//    apply to conversions). tests/test_float_semantics.cpp checks every half through both
//    against the scalar conversions' bits.
//  * tails: NEON has no masked loads or stores, so a tail (1 to 3 lanes) is loaded and stored
//    lane by lane; masked-off lanes read as +0 (as vmaskmovps gives), so the finite test of the
//    average never sees garbage.
//  * streamed stores: plain stores. AArch64's non-temporal store is STNP of a register pair,
//    which GCC has no intrinsic for; the Stream flag is accepted and ignored.
//  * max_into is max itself (no destination-register form to prefer, as on AVX2).
//  * Vec<double, 2> (the float64 running passes, VecD) has the float64 Vecs' operations: the
//    same compare-and-select max, tails lane by lane.
//  * the small-C gather's operations (load_n/store_n lane by lane, max_plain, the NaN flags,
//    the two-table permute as TBL over the 32 bytes of two registers, vqtbl2q_u8) and the wide
//    sums' (sub) are below the fused kernels' ones.
//  * the non-finite test: the largest exponent field seen (an unsigned max over the bits
//    masked to the exponent), all ones = inf or NaN: integer operations only, no float
//    arithmetic that FPCR's modes could touch.

template <>
struct Vec<float, 4> {
  static constexpr int N = 4;
  using reg = float32x4_t;
  using Tail = int;  // lanes in the last vector, 1 .. 3
  using Bad = uint32x4_t;
  static NHWCPOOL_ALWAYS_INLINE inline Tail tail_of(int rem) { return rem; }
  static NHWCPOOL_ALWAYS_INLINE inline reg zero() { return vdupq_n_f32(0.0f); }
  static NHWCPOOL_ALWAYS_INLINE inline const std::uint16_t* bits_of(const half_t* p) { return &p->bits; }
  static NHWCPOOL_ALWAYS_INLINE inline std::uint16_t* bits_of(half_t* p) { return &p->bits; }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline reg load(const T* p) {
    if constexpr (std::is_same<T, float>::value) {
      return vld1q_f32(p);
    } else {
      return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(bits_of(p))));
    }
  }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline reg load_tail(const T* p, Tail n) {
    if constexpr (std::is_same<T, float>::value) {
      float32x4_t v = vld1q_lane_f32(p, vdupq_n_f32(0.0f), 0);
      if (n >= 2) v = vld1q_lane_f32(p + 1, v, 1);
      if (n >= 3) v = vld1q_lane_f32(p + 2, v, 2);
      return v;
    } else {
      const std::uint16_t* b = bits_of(p);
      uint16x4_t h = vld1_lane_u16(b, vdup_n_u16(0), 0);
      if (n >= 2) h = vld1_lane_u16(b + 1, h, 1);
      if (n >= 3) h = vld1_lane_u16(b + 2, h, 2);
      return vcvt_f32_f16(vreinterpret_f16_u16(h));
    }
  }
  template <class T, bool Stream>
  static NHWCPOOL_ALWAYS_INLINE inline void store(T* p, reg x) {
    if constexpr (std::is_same<T, float>::value) {
      vst1q_f32(p, x);
    } else {
      vst1_u16(bits_of(p), vreinterpret_u16_f16(vcvt_f16_f32(x)));
    }
  }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline void store_tail(T* p, Tail n, reg x) {
    if constexpr (std::is_same<T, float>::value) {
      vst1q_lane_f32(p, x, 0);
      if (n >= 2) vst1q_lane_f32(p + 1, x, 1);
      if (n >= 3) vst1q_lane_f32(p + 2, x, 2);
    } else {
      std::uint16_t* b = bits_of(p);
      const uint16x4_t h = vreinterpret_u16_f16(vcvt_f16_f32(x));
      vst1_lane_u16(b, h, 0);
      if (n >= 2) vst1_lane_u16(b + 1, h, 1);
      if (n >= 3) vst1_lane_u16(b + 2, h, 2);
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg add(reg a, reg b) { return vaddq_f32(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg mul(reg a, reg b) { return vmulq_f32(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg div(reg a, reg b) { return vdivq_f32(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg set1(float v) { return vdupq_n_f32(v); }
  // MaxOp::f lane for lane: x where x > acc or x != x (NaN), else acc.
  static NHWCPOOL_ALWAYS_INLINE inline reg max(reg acc, reg x) {
    return vbslq_f32(vornq_u32(vcgtq_f32(x, acc), vceqq_f32(x, x)), x, acc);
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg max_into(reg acc, reg x) { return max(acc, x); }
  static NHWCPOOL_ALWAYS_INLINE inline Bad no_bad() { return vdupq_n_u32(0); }
  static NHWCPOOL_ALWAYS_INLINE inline Bad or_bad(Bad bad, reg x) {
    return vmaxq_u32(bad, vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x7f800000u)));
  }
  static NHWCPOOL_ALWAYS_INLINE inline bool any_bad(Bad bad) { return vmaxvq_u32(bad) == 0x7f800000u; }
  // --- The small-C gather's, the column slide's and the wide sums' operations (vec.hpp) ---
  // Partial vectors lane by lane (no masked loads or stores); Mask is the lane count itself.
  using Mask = i64;
  using Nan = uint32x4_t;
  static NHWCPOOL_ALWAYS_INLINE inline Mask mask(i64 n) { return n; }
  static NHWCPOOL_ALWAYS_INLINE inline reg load_n(const float* p, i64 n) {
    if (n >= N) return vld1q_f32(p);
    float32x4_t v = vdupq_n_f32(0.0f);
    if (n >= 1) v = vld1q_lane_f32(p, v, 0);
    if (n >= 2) v = vld1q_lane_f32(p + 1, v, 1);
    if (n >= 3) v = vld1q_lane_f32(p + 2, v, 2);
    return v;
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg load_n(const float* p, i64 n, Mask) { return load_n(p, n); }
  static NHWCPOOL_ALWAYS_INLINE inline void store_n(float* p, reg x, i64 n, bool whole) {
    if (whole || n >= N) {
      vst1q_f32(p, x);
      return;
    }
    if (n >= 1) vst1q_lane_f32(p, x, 0);
    if (n >= 2) vst1q_lane_f32(p + 1, x, 1);
    if (n >= 3) vst1q_lane_f32(p + 2, x, 2);
  }
  static NHWCPOOL_ALWAYS_INLINE inline void store_n(float* p, reg x, i64 n, bool whole, Mask) { store_n(p, x, n, whole); }
  static NHWCPOOL_ALWAYS_INLINE inline reg sub(reg a, reg b) { return vsubq_f32(a, b); }
  // x where x > acc, else acc (either NaN: acc), as maxps(x, acc).
  static NHWCPOOL_ALWAYS_INLINE inline reg max_plain(reg acc, reg x) { return vbslq_f32(vcgtq_f32(x, acc), x, acc); }
  static NHWCPOOL_ALWAYS_INLINE inline Nan no_nan() { return vdupq_n_u32(0); }
  static NHWCPOOL_ALWAYS_INLINE inline Nan or_nan(Nan f, reg a, reg b) {
    return vornq_u32(f, vandq_u32(vceqq_f32(a, a), vceqq_f32(b, b)));
  }
  static NHWCPOOL_ALWAYS_INLINE inline bool any_nan(Nan f) { return vmaxvq_u32(f) != 0; }
  static NHWCPOOL_ALWAYS_INLINE inline bool has_nan(reg x) { return vminvq_u32(vceqq_f32(x, x)) == 0; }
  // Two-table permute: TBL over the 32 bytes of a:b (vqtbl2q_u8), lane j's four bytes from
  // 4 * v[j] .. 4 * v[j] + 3.
  struct Index {
    uint8x16_t bytes;
  };
  static NHWCPOOL_ALWAYS_INLINE inline Index index(const std::int32_t* v) {
    alignas(16) std::uint8_t b[16];
    for (int j = 0; j < N; ++j) {
      for (int k = 0; k < 4; ++k) b[4 * j + k] = static_cast<std::uint8_t>(4 * v[j] + k);
    }
    return Index{vld1q_u8(b)};
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg permute2(reg a, reg b, const Index& i) {
    uint8x16x2_t t;
    t.val[0] = vreinterpretq_u8_f32(a);
    t.val[1] = vreinterpretq_u8_f32(b);
    return vreinterpretq_f32_u8(vqtbl2q_u8(t, i.bytes));
  }
  // --- The argmax's operations (vec.hpp): the lane mask of max (FCMGT, FCMEQ x x, ORN)
  // drives two BSL; the indices widened by SXTL/SXTL2; a tail lane by lane. ---
  using Sel = uint32x4_t;
  using Idx = int32x4_t;
  static NHWCPOOL_ALWAYS_INLINE inline Idx idx_set1(i64 i) { return vdupq_n_s32(static_cast<std::int32_t>(i)); }
  static NHWCPOOL_ALWAYS_INLINE inline Sel take(reg acc, reg x) { return vornq_u32(vcgtq_f32(x, acc), vceqq_f32(x, x)); }
  static NHWCPOOL_ALWAYS_INLINE inline reg pick(Sel m, reg a, reg x) { return vbslq_f32(m, x, a); }
  static NHWCPOOL_ALWAYS_INLINE inline Idx idx_pick(Sel m, Idx o, Idx t) { return vbslq_s32(m, t, o); }
  struct Wide {  // lanes 0-1, 2-3 as int64
    int64x2_t lo, hi;
  };
  static NHWCPOOL_ALWAYS_INLINE inline Wide widen(Idx o) { return Wide{vmovl_s32(vget_low_s32(o)), vmovl_high_s32(o)}; }
  template <bool Stream>
  static NHWCPOOL_ALWAYS_INLINE inline void store_wide(i64* d, const Wide& w) {
    vst1q_s64(reinterpret_cast<std::int64_t*>(d), w.lo);  // (Stream: plain stores, as above)
    vst1q_s64(reinterpret_cast<std::int64_t*>(d) + 2, w.hi);
  }
  static NHWCPOOL_ALWAYS_INLINE inline void store_wide_tail(i64* d, Tail n, const Wide& w) {
    auto* q = reinterpret_cast<std::int64_t*>(d);
    vst1q_lane_s64(q, w.lo, 0);
    if (n >= 2) vst1q_lane_s64(q + 1, w.lo, 1);
    if (n >= 3) vst1q_lane_s64(q + 2, w.hi, 0);
  }
};
using VecF = Vec<float, 4>;

// Integer vectors, 16 bytes of int8 .. uint64 lanes (vec.hpp's VecI<T>): the integer max
// kernels and float16 max on the bits. One register type for every lane type (uint8x16_t,
// reinterpreted per operation: no instructions), as the x86 builds' __m512i / __m256i, so the
// float16 kernel applies int16 and uint16 operations to the same registers. SMAX/UMAX/SMIN/
// UMIN for 8- to 32-bit lanes; 64-bit lanes by CMGT/CMHI and BSL. No masked loads or stores:
// the last vector of a block overlaps the one before (kOverlapTail), as with AVX2.
template <class T>
struct VecIntNeon {
  static_assert(std::is_integral<T>::value, "integer lanes");
  static constexpr int N = 16 / static_cast<int>(sizeof(T));
  static constexpr bool kSigned = std::is_signed<T>::value;
  static constexpr bool kOverlapTail = true;
  using reg = uint8x16_t;
  using Tail = int;  // (unused: the last vector overlaps)
  using Cmp = uint8x16_t;
  static NHWCPOOL_ALWAYS_INLINE inline Tail tail_of(int rem) { return rem; }
  static NHWCPOOL_ALWAYS_INLINE inline reg set1(T v) {
    if constexpr (sizeof(T) == 1) return vdupq_n_u8(static_cast<std::uint8_t>(v));
    if constexpr (sizeof(T) == 2) return vreinterpretq_u8_u16(vdupq_n_u16(static_cast<std::uint16_t>(v)));
    if constexpr (sizeof(T) == 4) return vreinterpretq_u8_u32(vdupq_n_u32(static_cast<std::uint32_t>(v)));
    if constexpr (sizeof(T) == 8) return vreinterpretq_u8_u64(vdupq_n_u64(static_cast<std::uint64_t>(v)));
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg load(const T* p) { return vld1q_u8(reinterpret_cast<const std::uint8_t*>(p)); }
  template <bool Stream>
  static NHWCPOOL_ALWAYS_INLINE inline void store(T* p, reg x) {
    vst1q_u8(reinterpret_cast<std::uint8_t*>(p), x);  // (Stream: plain stores, as Vec<float, 4>'s)
  }
  // The lane-typed compares, as a byte mask.
  static NHWCPOOL_ALWAYS_INLINE inline Cmp gt(reg a, reg b) {
    if constexpr (sizeof(T) == 1) {
      return kSigned ? vcgtq_s8(vreinterpretq_s8_u8(a), vreinterpretq_s8_u8(b)) : vcgtq_u8(a, b);
    }
    if constexpr (sizeof(T) == 2) {
      return vreinterpretq_u8_u16(kSigned ? vcgtq_s16(vreinterpretq_s16_u8(a), vreinterpretq_s16_u8(b))
                                          : vcgtq_u16(vreinterpretq_u16_u8(a), vreinterpretq_u16_u8(b)));
    }
    if constexpr (sizeof(T) == 4) {
      return vreinterpretq_u8_u32(kSigned ? vcgtq_s32(vreinterpretq_s32_u8(a), vreinterpretq_s32_u8(b))
                                          : vcgtq_u32(vreinterpretq_u32_u8(a), vreinterpretq_u32_u8(b)));
    }
    if constexpr (sizeof(T) == 8) {
      return vreinterpretq_u8_u64(kSigned ? vcgtq_s64(vreinterpretq_s64_u8(a), vreinterpretq_s64_u8(b))
                                          : vcgtq_u64(vreinterpretq_u64_u8(a), vreinterpretq_u64_u8(b)));
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg max(reg a, reg b) {
    if constexpr (sizeof(T) == 1) {
      return kSigned ? vreinterpretq_u8_s8(vmaxq_s8(vreinterpretq_s8_u8(a), vreinterpretq_s8_u8(b))) : vmaxq_u8(a, b);
    }
    if constexpr (sizeof(T) == 2) {
      return kSigned ? vreinterpretq_u8_s16(vmaxq_s16(vreinterpretq_s16_u8(a), vreinterpretq_s16_u8(b)))
                     : vreinterpretq_u8_u16(vmaxq_u16(vreinterpretq_u16_u8(a), vreinterpretq_u16_u8(b)));
    }
    if constexpr (sizeof(T) == 4) {
      return kSigned ? vreinterpretq_u8_s32(vmaxq_s32(vreinterpretq_s32_u8(a), vreinterpretq_s32_u8(b)))
                     : vreinterpretq_u8_u32(vmaxq_u32(vreinterpretq_u32_u8(a), vreinterpretq_u32_u8(b)));
    }
    if constexpr (sizeof(T) == 8) return vbslq_u8(gt(b, a), b, a);
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg min(reg a, reg b) {
    if constexpr (sizeof(T) == 1) {
      return kSigned ? vreinterpretq_u8_s8(vminq_s8(vreinterpretq_s8_u8(a), vreinterpretq_s8_u8(b))) : vminq_u8(a, b);
    }
    if constexpr (sizeof(T) == 2) {
      return kSigned ? vreinterpretq_u8_s16(vminq_s16(vreinterpretq_s16_u8(a), vreinterpretq_s16_u8(b)))
                     : vreinterpretq_u8_u16(vminq_u16(vreinterpretq_u16_u8(a), vreinterpretq_u16_u8(b)));
    }
    if constexpr (sizeof(T) == 4) {
      return kSigned ? vreinterpretq_u8_s32(vminq_s32(vreinterpretq_s32_u8(a), vreinterpretq_s32_u8(b)))
                     : vreinterpretq_u8_u32(vminq_u32(vreinterpretq_u32_u8(a), vreinterpretq_u32_u8(b)));
    }
    if constexpr (sizeof(T) == 8) return vbslq_u8(gt(a, b), b, a);
  }
  static NHWCPOOL_ALWAYS_INLINE inline Cmp eq_zero(reg a) {
    if constexpr (sizeof(T) == 1) return vceqzq_u8(a);
    if constexpr (sizeof(T) == 2) return vreinterpretq_u8_u16(vceqzq_u16(vreinterpretq_u16_u8(a)));
    if constexpr (sizeof(T) == 4) return vreinterpretq_u8_u32(vceqzq_u32(vreinterpretq_u32_u8(a)));
    if constexpr (sizeof(T) == 8) return vreinterpretq_u8_u64(vceqzq_u64(vreinterpretq_u64_u8(a)));
  }
  static NHWCPOOL_ALWAYS_INLINE inline Cmp cmp_or(Cmp a, Cmp b) { return vorrq_u8(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline bool any(Cmp c) { return vmaxvq_u8(c) != 0; }
  // CMLT #0 (each lane's sign as a lane mask), then BSL.
  static NHWCPOOL_ALWAYS_INLINE inline reg select_neg(reg x, reg a, reg b) {
    uint8x16_t m;
    if constexpr (sizeof(T) == 1) m = vcltzq_s8(vreinterpretq_s8_u8(x));
    if constexpr (sizeof(T) == 2) m = vreinterpretq_u8_u16(vcltzq_s16(vreinterpretq_s16_u8(x)));
    if constexpr (sizeof(T) == 4) m = vreinterpretq_u8_u32(vcltzq_s32(vreinterpretq_s32_u8(x)));
    if constexpr (sizeof(T) == 8) m = vreinterpretq_u8_u64(vcltzq_s64(vreinterpretq_s64_u8(x)));
    return vbslq_u8(m, b, a);
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg or_xor(reg a, reg b, reg c) { return vorrq_u8(a, veorq_u8(b, c)); }
};
template <> struct Vec<std::int8_t, 16> : VecIntNeon<std::int8_t> {};
template <> struct Vec<std::uint8_t, 16> : VecIntNeon<std::uint8_t> {};
template <> struct Vec<std::int16_t, 8> : VecIntNeon<std::int16_t> {};
template <> struct Vec<std::uint16_t, 8> : VecIntNeon<std::uint16_t> {};
template <> struct Vec<std::int32_t, 4> : VecIntNeon<std::int32_t> {};
template <> struct Vec<std::uint32_t, 4> : VecIntNeon<std::uint32_t> {};
template <> struct Vec<std::int64_t, 2> : VecIntNeon<std::int64_t> {};
template <> struct Vec<std::uint64_t, 2> : VecIntNeon<std::uint64_t> {};

// Vec<double, 2>: the float64 running passes' vector (running_fused.hpp's VecOf<double>).
template <>
struct Vec<double, 2> {
  static constexpr int N = 2;
  using reg = float64x2_t;
  using Mask = i64;
  static NHWCPOOL_ALWAYS_INLINE inline Mask mask(i64 n) { return n; }
  static NHWCPOOL_ALWAYS_INLINE inline reg zero() { return vdupq_n_f64(0.0); }
  // T = double, or float (global_avg's float64 sums of float32: widened exactly on load by
  // fcvtl, rounded to nearest even on store by fcvtn, as x86's vcvtps2pd / vcvtpd2ps).
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline reg load(const T* p) {
    if constexpr (std::is_same<T, float>::value) {
      return vcvt_f64_f32(vld1_f32(p));
    } else {
      static_assert(std::is_same<T, double>::value, "float64 or float32");
      return vld1q_f64(p);
    }
  }
  template <class T, bool Stream>
  static NHWCPOOL_ALWAYS_INLINE inline void store(T* p, reg x) {
    if constexpr (std::is_same<T, float>::value) {
      vst1_f32(p, vcvt_f32_f64(x));
    } else {
      static_assert(std::is_same<T, double>::value, "float64 or float32");
      vst1q_f64(p, x);  // (Stream: plain stores, as Vec<float, 4>'s)
    }
  }
  // The last partial vector: with two lanes, rem is 1 (lane 0; lane 1 reads as +0).
  using Tail = int;
  static NHWCPOOL_ALWAYS_INLINE inline Tail tail_of(int rem) { return rem; }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline reg load_tail(const T* p, Tail) {
    if constexpr (std::is_same<T, float>::value) {
      return vcvt_f64_f32(vld1_lane_f32(p, vdup_n_f32(0.0f), 0));
    } else {
      static_assert(std::is_same<T, double>::value, "float64 or float32");
      return vld1q_lane_f64(p, vdupq_n_f64(0.0), 0);
    }
  }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline void store_tail(T* p, Tail, reg x) {
    if constexpr (std::is_same<T, float>::value) {
      vst1_lane_f32(p, vcvt_f32_f64(x), 0);
    } else {
      static_assert(std::is_same<T, double>::value, "float64 or float32");
      vst1q_lane_f64(p, x, 0);
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg mul(reg a, reg b) { return vmulq_f64(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg load_n(const double* p, i64 n) {
    if (n >= N) return vld1q_f64(p);
    if (n == 1) return vld1q_lane_f64(p, vdupq_n_f64(0.0), 0);
    return vdupq_n_f64(0.0);
  }
  static NHWCPOOL_ALWAYS_INLINE inline void store_n(double* p, reg x, i64 n, bool whole) {
    if (whole || n >= N) {
      vst1q_f64(p, x);
    } else if (n == 1) {
      vst1q_lane_f64(p, x, 0);
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg add(reg a, reg b) { return vaddq_f64(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg set1(double v) { return vdupq_n_f64(v); }
  // MaxOp::f lane for lane: x where x > acc or x != x (NaN), else acc.
  static NHWCPOOL_ALWAYS_INLINE inline reg max(reg acc, reg x) {
    return vbslq_f64(vornq_u64(vcgtq_f64(x, acc), vceqq_f64(x, x)), x, acc);
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg max_into(reg acc, reg x) { return max(acc, x); }
};
