// The direct drivers: MaxDirect, MaxIndexedDirect, AvgDirect.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// Runs: the call's rows take their full windows as one run (max_run_vec, max_run_int,
// avg_run_vec; see pixel_runs). A separate instantiation, so that the per-pixel loop of the
// others is compiled as before: beside the run code it measured up to 1.1x slower over 128 channels.
template <class T, bool Runs>
struct MaxDirect {
  using A = typename MaxAccOf<T>::type;
  static void run(const void* vctx, i64 begin, i64 end) {
    const MaxPoolArgs& a = *static_cast<const MaxPoolArgs*>(vctx);
    const Geometry& g = a.geo;
    constexpr i64 B = block_of<A>();
    const i64 C = g.C, OWC = g.OW * C;
    TapList<T> tl(g, Reduction::max);
    alignas(64) A acc[B];
    constexpr i64 WB = kWideBlockBytes / static_cast<i64>(sizeof(A));
    Scratch<A> wacc(tl.wide ? WB : 0), wtmp(tl.wide ? WB : 0);
    const AxisTable& wt = *a.wtab;
    const bool sliding = std::is_same<T, float>::value && !tl.wide && slide_applies(g);
    // Fused blocks: float32 and float16 in the builds with a vector layer (fused.hpp; float16
    // on the bits in fused_int.hpp), integers where there are integer vectors (AVX-512, AVX2, NEON:
    // fused_int.hpp).
    constexpr bool kFused = kVecBlocks && (std::is_same<T, half_t>::value || std::is_same<T, float>::value ||
                                           (kIntVecs && std::is_integral<T>::value));
    const bool vstream = (std::is_same<A, T>::value || kFused) && stream_values(a.stream, a.out, C, sizeof(T));
    for (i64 r = begin; r < end; ++r) {
      const i64 n = r / g.OH, oh = r - n * g.OH;
      T* orow = static_cast<T*>(a.out) + r * OWC;
      tl.set_rows(a.in, g, *a.htab, n, oh);
      i64 fb = 0, fe = 0;  // windows done before the pixel loop, by slide() or as one run
      if constexpr (std::is_same<T, float>::value) {
        if (sliding && tl.nrows > 0 && wt.full_end > wt.full_begin) {
          fb = wt.full_begin;
          fe = wt.full_end;
          slide<MaxOp>(tl.rows.p, tl.nrows, g.w.kernel, C, wt.first[static_cast<std::size_t>(fb)], fe - fb,
                       orow + fb * C, nullptr, g.W * C, a.stream);
        }
      }
#ifdef NHWCPOOL_VEC_BLOCKS
      if constexpr (Runs && kFused && !std::is_same<T, half_t>::value) {
        if (fe == fb && tl.nrows > 0 && wt.full_end - wt.full_begin > 1) {
          fb = wt.full_begin;
          fe = wt.full_end;
          const Window<T> win = tl.window_at(g, wt, fb);
#ifdef NHWCPOOL_INT_VECS
          if constexpr (std::is_integral<T>::value) {
            if (vstream) {
              max_run_int<T, true>(tl, win, g.w.stride * C, fe - fb, C, orow + fb * C);
            } else {
              max_run_int<T, false>(tl, win, g.w.stride * C, fe - fb, C, orow + fb * C);
            }
          } else
#endif
          {
            if (vstream) {
              max_run_vec<T, true>(tl, win, g.w.stride * C, fe - fb, C, orow + fb * C);
            } else {
              max_run_vec<T, false>(tl, win, g.w.stride * C, fe - fb, C, orow + fb * C);
            }
          }
        }
      }
#endif
      for (i64 ow = 0; ow < g.OW; ++ow) {
        if (ow == fb && fe > fb) {
          ow = fe - 1;
          continue;
        }
        T* o = orow + ow * C;
        const Window<T> win = tl.window_at(g, *a.wtab, ow);
        tl.prefetch(win.shift);
        if (win.ntaps == 0) {
          for (i64 c0 = 0; c0 < C; c0 += B) {
            const i64 cb = C - c0 < B ? C - c0 : B;
            fill(acc, lowest_value<A>(), cb);
            store_max(acc, o + c0, cb);
          }
          continue;
        }
        if (tl.wide) {
          for (i64 c0 = 0; c0 < C; c0 += WB) {
            const i64 cb = C - c0 < WB ? C - c0 : WB;
            reduce_wide<MaxOp>(tl, c0, cb, wacc.p, wtmp.p);
            if (std::is_same<A, T>::value && vstream) {
              stream_copy(o + c0, wacc.p, cb * static_cast<i64>(sizeof(T)));
            } else {
              store_max(wacc.p, o + c0, cb);
            }
          }
          continue;
        }
#ifdef NHWCPOOL_VEC_BLOCKS
        if constexpr (kFused) {
          for (i64 c0 = 0; c0 < C; c0 += B) {
            const i64 cb = C - c0 < B ? C - c0 : B;
            if (vstream) {
              max_block<T, true>(win, c0, cb, o + c0);
            } else {
              max_block<T, false>(win, c0, cb, o + c0);
            }
          }
          continue;
        }
#endif
        i64 c0 = 0;
        for (; c0 + B <= C; c0 += B) {
          reduce_block<MaxOp, A, T, true>(win, c0, B, acc);
          if (vstream) {
            stream_copy(o + c0, acc, B * static_cast<i64>(sizeof(T)));
          } else {
            store_max(acc, o + c0, B);
          }
        }
        if (c0 < C) {
          reduce_block<MaxOp, A, T, false>(win, c0, C - c0, acc);
          if (vstream) {
            stream_copy(o + c0, acc, (C - c0) * static_cast<i64>(sizeof(T)));
          } else {
            store_max(acc, o + c0, C - c0);
          }
        }
      }
    }
    if (vstream || (sliding && a.stream)) stream_fence();
  }
};

template <class T, class I>
struct MaxIndexedDirect {
  using A = typename MaxAccOf<T>::type;
  static void run(const void* vctx, i64 begin, i64 end) {
    const MaxPoolArgs& a = *static_cast<const MaxPoolArgs*>(vctx);
    const Geometry& g = a.geo;
    const AxisTable& ht = *a.htab;
    const AxisTable& wt = *a.wtab;
    constexpr i64 B = block_of<A>();
    const i64 C = g.C, W = g.W, OWC = g.OW * C;
    TapList<T> tl(g, Reduction::argmax);
    alignas(64) A acc[B];
    alignas(64) I ord[B];
    constexpr i64 WB = kWideBlockBytes / static_cast<i64>(sizeof(A));
    Scratch<A> wacc(tl.wide ? WB : 0), wtmp(tl.wide ? WB : 0);
    Scratch<I> word(tl.wide ? WB : 0);
    // Indices are streamed when the output is large and each pixel's block covers whole lines.
    const bool istream = a.stream && C * 8 >= 1024;
    const bool vstream = std::is_same<A, T>::value && stream_values(a.stream, a.out, C, sizeof(T));
    // Whole-line int64 index blocks (the fused argmax streams them from registers).
    [[maybe_unused]] const bool zstream = istream && (reinterpret_cast<std::uintptr_t>(a.indices) & 63) == 0 && C % 8 == 0;
    for (i64 r = begin; r < end; ++r) {
      const i64 n = r / g.OH, oh = r - n * g.OH;
      const auto ohi = static_cast<std::size_t>(oh);
      T* orow = static_cast<T*>(a.out) + r * OWC;
      i64* irow = a.indices + r * OWC;
      tl.set_rows(a.in, g, ht, n, oh);
      for (i64 ow = 0; ow < g.OW; ++ow) {
        const auto owi = static_cast<std::size_t>(ow);
        T* o = orow + ow * C;
        i64* ix = irow + ow * C;
        const Window<T> win = tl.window_at(g, wt, ow);
        tl.prefetch(win.shift);
        if (win.ntaps == 0) {  // no in-range tap: PyTorch's -inf and start index
          const i64 start = start_index(ht.start[ohi], W, wt.start[owi]);
          for (i64 c0 = 0; c0 < C; c0 += B) {
            const i64 cb = C - c0 < B ? C - c0 : B;
            fill(acc, lowest_value<A>(), cb);
            store_max(acc, o + c0, cb);
          }
          fill(ix, start, C);
          continue;
        }
        if (tl.wide) {
          for (i64 c0 = 0; c0 < C; c0 += WB) {
            const i64 cb = C - c0 < WB ? C - c0 : WB;
            argmax_wide(g, tl, c0, cb, wacc.p, word.p, wtmp.p);
            store_max(wacc.p, o + c0, cb);
            store_indices(word.p, ix + c0, cb, istream);
          }
          continue;
        }
        for (i64 c0 = 0; c0 < C; c0 += B) {
          const i64 cb = C - c0 < B ? C - c0 : B;
#ifdef NHWCPOOL_VEC_ARGMAX
          if constexpr (std::is_same<T, float>::value && std::is_same<I, std::int32_t>::value) {
            argmax_block_vec(win, c0, cb, o + c0, ix + c0, vstream, zstream);
            continue;
          }
#endif
          if constexpr (std::is_same<A, T>::value) {
            // Straight into the output, or streamed from acc (a copy loop here would be
            // compiled to `rep movs`, which measured 2x slower overall).
            T* dst = vstream ? acc : o + c0;
            if (cb == B) {
              argmax_block<A, T, I, true>(win, c0, B, dst, ord);
            } else {
              argmax_block<A, T, I, false>(win, c0, cb, dst, ord);
            }
            if (vstream) stream_copy(o + c0, acc, cb * static_cast<i64>(sizeof(T)));
            store_indices(ord, ix + c0, cb, istream);
            continue;
          }
          if (cb == B) {
            argmax_block<A, T, I, true>(win, c0, B, acc, ord);
          } else {
            argmax_block<A, T, I, false>(win, c0, cb, acc, ord);
          }
          store_max(acc, o + c0, cb);
          store_indices(ord, ix + c0, cb, istream);
        }
      }
    }
    if (istream || vstream) stream_fence();
  }
};


template <class T, class A, class M, bool Runs>
struct AvgDirect {
  // float32 in, float32 sums, float32 out: the only combination whose sums can overflow.
  static constexpr bool kCheckOverflow = std::is_same<T, float>::value && std::is_same<A, float>::value;
  static void run(const void* vctx, i64 begin, i64 end) {
    const AvgPoolArgs& a = *static_cast<const AvgPoolArgs*>(vctx);
    const Geometry& g = a.geo;
    const AxisTable& ht = *a.htab;
    const AxisTable& wt = *a.wtab;
    constexpr i64 B = block_of<A>();
    const i64 C = g.C, OWC = g.OW * C;
    const int osize = itemsize(a.out_dtype);
    TapList<T> tl(g, Reduction::avg);
    constexpr i64 WB = kWideBlockBytes / static_cast<i64>(sizeof(A));
    const i64 AB = tl.wide ? WB : B;  // accumulator block
    Scratch<A> wacc(tl.wide ? WB : 0), wtmp(tl.wide ? WB : 0);
    Scratch<M> means(AB);
    alignas(64) A sacc[B];
    A* acc = tl.wide ? wacc.p : sacc;
    M* mean = means.p;
    RowDivisors<M> divs(g);
    const bool narrow = narrowed<M>(a.out_dtype);
    constexpr bool kF32 = std::is_same<T, float>::value && std::is_same<A, float>::value && std::is_same<M, float>::value;
    constexpr bool kH16 = std::is_same<T, half_t>::value && std::is_same<A, float>::value && std::is_same<M, float>::value;
    const bool sliding = kF32 && a.out_dtype == DType::f32 && !tl.wide && slide_applies(g);
    // float32 or float64 throughout: the means go straight to the output (streamed through a
    // small buffer); any other combination converts them.
    constexpr bool kSame = std::is_same<T, A>::value && std::is_same<A, M>::value &&
                           (std::is_same<T, float>::value || std::is_same<T, double>::value);
    const bool same_out = kSame && a.out_dtype == (std::is_same<T, float>::value ? DType::f32 : DType::f64);
    const bool vstream = (same_out && stream_values(a.stream, a.out, C, sizeof(T))) ||
                         (kVecBlocks && kH16 && a.out_dtype == DType::f16 && stream_values(a.stream, a.out, C, 2));
    Scratch<A> sbuf(vstream && kSame ? AB : 0);
    for (i64 r = begin; r < end; ++r) {
      const i64 n = r / g.OH, oh = r - n * g.OH;
      char* orow = static_cast<char*>(a.out) + r * OWC * osize;
      tl.set_rows(a.in, g, ht, n, oh);
      divs.set_row(a, oh);
      FiniteCheck finite;
      i64 fb = 0, fe = 0;  // windows done before the pixel loop, by slide() or as one run
      if constexpr (kF32) {
        if (sliding && tl.nrows > 0 && wt.full_end > wt.full_begin) {
          fb = wt.full_begin;
          fe = wt.full_end;
          float* o = reinterpret_cast<float*>(orow) + fb * C;
          // Full windows of one row share their divisor.
          if (!slide<SumOp>(tl.rows.p, tl.nrows, g.w.kernel, C, wt.first[static_cast<std::size_t>(fb)],
                             fe - fb, o, &divs[fb], g.W * C, a.stream)) {
            finite.mark_not_finite();
          }
        }
      }
#ifdef NHWCPOOL_VEC_BLOCKS
      if constexpr (Runs && (kF32 || kH16)) {
        if (fe == fb && a.out_dtype == (kF32 ? DType::f32 : DType::f16) && tl.nrows > 0 &&
            wt.full_end - wt.full_begin > 1) {
          fb = wt.full_begin;
          fe = wt.full_end;
          const Window<T> win = tl.window_at(g, wt, fb);
          T* o = reinterpret_cast<T*>(orow) + fb * C;
          if (vstream) {
            avg_run_vec<T, true>(tl, win, g.w.stride * C, fe - fb, C, &divs[fb], o, finite);
          } else {
            avg_run_vec<T, false>(tl, win, g.w.stride * C, fe - fb, C, &divs[fb], o, finite);
          }
        }
      }
#endif
      for (i64 ow = 0; ow < g.OW; ++ow) {
        if (ow == fb && fe > fb) {
          ow = fe - 1;
          continue;
        }
        char* o = orow + ow * C * osize;
        const Window<T> win = tl.window_at(g, wt, ow);
        tl.prefetch(win.shift);
        const Divisor<M>& div = divs[ow];
#ifdef NHWCPOOL_VEC_BLOCKS
        if constexpr (kF32 || kH16) {
          if (a.out_dtype == (kF32 ? DType::f32 : DType::f16) && !tl.wide && win.ntaps > 0) {
            T* ot = reinterpret_cast<T*>(o);
            for (i64 c0 = 0; c0 < C; c0 += B) {
              const i64 cb = C - c0 < B ? C - c0 : B;
              if (vstream) {
                avg_block_vec<T, true>(win, c0, cb, div, ot + c0, finite);
              } else {
                avg_block_vec<T, false>(win, c0, cb, div, ot + c0, finite);
              }
            }
            continue;
          }
        }
#endif
        for (i64 c0 = 0; c0 < C; c0 += AB) {
          const i64 cb = C - c0 < AB ? C - c0 : AB;
          if (win.ntaps == 0) {
            fill(acc, A(0), cb);
          } else if (tl.wide) {
            reduce_wide<SumOp>(tl, c0, cb, acc, wtmp.p);
          } else if (cb == B) {
            reduce_block<SumOp, A, T, true>(win, c0, B, acc);
          } else {
            reduce_block<SumOp, A, T, false>(win, c0, cb, acc);
          }
          if constexpr (kCheckOverflow) finite.add(acc, cb);
          if (kSame && same_out) {
            if (vstream) {
              div.apply(acc, reinterpret_cast<M*>(sbuf.p), cb);
              stream_copy(reinterpret_cast<A*>(o) + c0, sbuf.p, cb * static_cast<i64>(sizeof(A)));
            } else {
              div.apply(acc, reinterpret_cast<M*>(o) + c0, cb);
            }
          } else {
            div.apply(acc, mean, cb, narrow);
            store_convert(mean, o + c0 * osize, a.out_dtype, cb);
          }
        }
      }
      if constexpr (kCheckOverflow) {
        if (!finite.take()) {
          if (vstream || (sliding && a.stream)) stream_fence();  // streamed stores land before the redo
          avg_row_float64<T>(a, n, oh, orow);
        }
      }
    }
    if (vstream || (sliding && a.stream)) stream_fence();
  }
};
