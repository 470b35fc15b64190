// MaxIndexed: max with indices for the calls use_direct() sends to the separable side
// (per-window loops, branch-free selects, AVX-512 gathers); select_bits.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// take ? x : y without a branch. With few channels the loops over c are not vectorised, and
// GCC compiles the select as a branch, which random data mispredicts half the time (2x2/s2
// argmax of float32 (64,64,64,3) from standard-normal data: 3.9 ms, 1.1 ms on data whose
// branches predict).
template <class V>
inline V select_bits(bool take, V x, V y) {
  using U = typename std::conditional<sizeof(V) == 1, std::uint8_t,
            typename std::conditional<sizeof(V) == 2, std::uint16_t,
            typename std::conditional<sizeof(V) == 4, std::uint32_t, std::uint64_t>::type>::type>::type;
  static_assert(sizeof(U) == sizeof(V), "select_bits: 1, 2, 4 or 8-byte values");
  U ux, uy;
  std::memcpy(&ux, &x, sizeof(V));
  std::memcpy(&uy, &y, sizeof(V));
  const U mask = static_cast<U>(U(0) - static_cast<U>(take));
  const U r = static_cast<U>((ux & mask) | (uy & static_cast<U>(~mask)));
  V out;
  std::memcpy(&out, &r, sizeof(V));
  return out;
}
constexpr i64 kBranchFreeChannels = 16;

// Max pooling with PyTorch-convention indices (flat y*W + x per (n, c) plane).
template <class T>
struct MaxIndexed {
  using A = typename MaxAccOf<T>::type;
  static constexpr bool kSame = std::is_same<A, T>::value;

  static void run(const void* vctx, i64 begin, i64 end) {
    const MaxPoolArgs& a = *static_cast<const MaxPoolArgs*>(vctx);
    const Geometry& g = a.geo;
    const AxisTable& ht = *a.htab;
    const AxisTable& wt = *a.wtab;
    const i64 C = g.C, W = g.W, WC = W * C, OWC = g.OW * C, dh = g.h.dilation, dw = g.w.dilation;
    Scratch<A> conv(kSame ? 0 : WC), vbuf(kSame ? 0 : OWC);
    // Few channels: the windows that lie inside the row (ow in [fb, fe)) are updated tap by
    // tap in one flat loop over their (ow, c) elements, reading through a table of offsets
    // (off: element of tap 0, col: its column), with branch-free selects; per-window loops
    // over 1-15 channels are mostly overhead. (2x2/s2 argmax
    // of float32 (64,64,64,3) from standard-normal data, one thread, from Python: 3.9 -> 1.7 ms
    // scalar, 0.38 ms with the AVX-512 gathers below. GCC's generic tuning does not emit
    // gathers itself, so other types and ISAs keep the scalar, branch-free loop.)
    // (Rows of more than 2^20 inner-window elements keep the per-window loop: the tables take
    // 20 bytes per element and thread.)
    const bool flat = C < kBranchFreeChannels && wt.full_end > wt.full_begin &&
                      (wt.full_end - wt.full_begin) * C <= (i64{1} << 20);
    const i64 fb = flat ? wt.full_begin : 0, fe = flat ? wt.full_end : 0;
    Scratch<i64> off(flat ? (fe - fb) * C : 0), col(flat ? (fe - fb) * C : 0);
    const ShortRowPrefetch pf(a.in, g, static_cast<const T*>(nullptr));
#ifdef __AVX512F__
    // float rows shorter than 2^31 elements: 32-bit offsets for vgatherdps, 16 elements a step
    // (with the row prefetch and a masked tail, C = 1 planes of an NCHW input, 2x2/s2 argmax over
    // (512,112,112,1), C++ harness: 14.9 -> 4.4 ms).
    constexpr bool kGather = std::is_same<A, float>::value;
    const bool gather = kGather && flat && WC < (i64{1} << 31);
    Scratch<std::int32_t> off32(gather ? (fe - fb) * C : 0);
#endif
    for (i64 o = fb; o < fe; ++o) {
      const i64 w0 = wt.first[static_cast<std::size_t>(o)];
      for (i64 c = 0; c < C; ++c) {
        off.p[(o - fb) * C + c] = w0 * C + c;
        col.p[(o - fb) * C + c] = w0;
#ifdef __AVX512F__
        if (gather) off32.p[(o - fb) * C + c] = static_cast<std::int32_t>(w0 * C + c);
#endif
      }
    }
    for (i64 r = begin; r < end; ++r) {
      const i64 n = r / g.OH, oh = r - n * g.OH;
      const auto ohi = static_cast<std::size_t>(oh);
      T* orow = static_cast<T*>(a.out) + r * OWC;
      A* val = kSame ? reinterpret_cast<A*>(orow) : vbuf.p;
      i64* idx = a.indices + r * OWC;
      const i64 hstart = ht.start[ohi];
      fill(val, lowest_value<A>(), OWC);
      for (i64 o = 0; o < g.OW; ++o) {
        const i64 si = start_index(hstart, W, wt.start[static_cast<std::size_t>(o)]);
        for (i64 c = 0; c < C; ++c) idx[o * C + c] = si;
      }
      const i64 hf = ht.first[ohi], hc = ht.count[ohi];
      if (flat && hc > 0) pf(input_row<T>(a.in, n, hf + (hc - 1) * dh));
      for (i64 t = 0; t < hc; ++t) {
        const i64 h = hf + t * dh;
        const T* src = input_row<T>(a.in, n, h);
        const A* rp;
        if constexpr (kSame) {
          rp = src;
        } else {
          copy_from(conv.p, src, WC);
          rp = conv.p;
        }
        if (flat) {
          const i64 ne = (fe - fb) * C;
          A* NHWCPOOL_RESTRICT mv = val + fb * C;
          i64* NHWCPOOL_RESTRICT mi = idx + fb * C;
          const i64* NHWCPOOL_RESTRICT op = off.p;
          const i64* NHWCPOOL_RESTRICT cp = col.p;
          for (i64 j = 0; j < g.w.kernel; ++j) {
            const A* NHWCPOOL_RESTRICT s = rp + j * dw * C;
            const i64 id0 = h * W + j * dw;
            i64 e = 0;
#ifdef __AVX512F__
            if constexpr (kGather) {
              if (gather) {
                const __m512i vid0 = _mm512_set1_epi64(id0);
                for (; e < ne; e += 16) {
                  const i64 left = ne - e;
                  const __mmask16 lanes = left >= 16 ? static_cast<__mmask16>(0xFFFF)
                                                     : static_cast<__mmask16>((1u << left) - 1u);
                  const __m512i o = _mm512_maskz_loadu_epi32(lanes, off32.p + e);
                  const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, o, s, 4);
                  const __m512 m = _mm512_maskz_loadu_ps(lanes, mv + e);
                  // (v > m) | (v != v), as the scalar loop: NaN taps win, NaN maxima stay
                  const __mmask16 take = static_cast<__mmask16>(
                      lanes & (_mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q)));
                  _mm512_mask_storeu_ps(mv + e, take, v);
                  const auto tlo = static_cast<__mmask8>(take), thi = static_cast<__mmask8>(take >> 8);
                  _mm512_mask_storeu_epi64(mi + e, tlo, _mm512_add_epi64(vid0, _mm512_maskz_loadu_epi64(tlo, cp + e)));
                  _mm512_mask_storeu_epi64(mi + e + 8, thi,
                                           _mm512_add_epi64(vid0, _mm512_maskz_loadu_epi64(thi, cp + e + 8)));
                }
              }
            }
#endif
            for (; e < ne; ++e) {
              const A v = s[op[e]];
              const bool take = (v > mv[e]) | (v != v);  // NOLINT: NaN test
              mv[e] = select_bits(take, v, mv[e]);
              mi[e] = select_bits(take, id0 + cp[e], mi[e]);
            }
          }
        }
        for (i64 o = 0; o < g.OW; ++o) {
          if (o == fb && fe > fb) {
            o = fe - 1;
            continue;
          }
          const auto oi = static_cast<std::size_t>(o);
          const i64 f = wt.first[oi], cnt = wt.count[oi];
          A* NHWCPOOL_RESTRICT mv = val + o * C;
          i64* NHWCPOOL_RESTRICT mi = idx + o * C;
          for (i64 j = 0; j < cnt; ++j) {
            const i64 w = f + j * dw;
            const A* NHWCPOOL_RESTRICT s = rp + w * C;
            const i64 id = h * W + w;
            // (From 16 channels the ternaries vectorise better than the bit selects: float64
            // and uint8 argmax over 64 channels were 1.16x / 1.25x slower with select_bits.)
            if (C < kBranchFreeChannels) {
              for (i64 c = 0; c < C; ++c) {
                const A v = s[c];
                const bool take = (v > mv[c]) | (v != v);  // NOLINT: NaN test
                mv[c] = select_bits(take, v, mv[c]);
                mi[c] = select_bits(take, id, mi[c]);
              }
            } else {
              for (i64 c = 0; c < C; ++c) {
                const A v = s[c];
                const bool take = (v > mv[c]) | (v != v);  // NOLINT: NaN test
                mv[c] = take ? v : mv[c];
                mi[c] = take ? id : mi[c];
              }
            }
          }
        }
      }
      if constexpr (!kSame) float_to_half_row(vbuf.p, orow, OWC);
    }
  }
};
