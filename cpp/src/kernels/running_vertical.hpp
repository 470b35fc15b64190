// VerticalVhgw: the running max/sums (running.hpp) along H, over one task's output rows.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// ---------------------------------------------------------------------------------------------
// Max pooling, values only.

// Vertical running max or sum (vhgw_axis along H) over one task's output rows, taken in
// order: holds the suffixes of the current block of k padded rows (k rows of W*C) and the
// prefix of the next block so far. Used while k rows fit kVhgwScratchBytes; beyond that the
// O(k) row passes run instead, with O(W*C) scratch. T: the input's type, A: the accumulator's.
constexpr i64 kVhgwScratchBytes = i64{4} << 20;
template <class Op, class A, class T = A>
class VerticalVhgw {
 public:
  VerticalVhgw(const Geometry& g, bool on)
      : k_(g.h.kernel), wc_(g.W * g.C), suf_(on ? g.h.kernel * g.W * g.C : 0), pre_(on ? g.W * g.C : 0) {}
  static bool applies(const Geometry& g) {
    return vhgw_applies(g.h, g.H) &&
           static_cast<double>(g.h.kernel) * static_cast<double>(g.W) * static_cast<double>(g.C) *
                   static_cast<double>(sizeof(A)) <=
               static_cast<double>(kVhgwScratchBytes);
  }
  // Op over padded rows [oh, oh + k) of image n; may return a pointer into its own scratch.
  const A* row(const InputView& in, const Geometry& g, i64 n, i64 oh, A* NHWCPOOL_RESTRICT out) {
    A* b = nullptr;
    const A* a = parts(in, g, n, oh, &b, nullptr);
    if (b == nullptr) return a;
    combine3<Op>(out, a, b, wc_);
    return out;
  }
  // The same row as its two parts, Op(a, *b) element-wise (*b: nullptr when a is the row):
  // the suffix of block oh / k from row oh, and the prefix of the next block (pointers into
  // this object's scratch, valid until the next call). With `add` (only where T is A), the
  // prefix's last input row may be left to the caller: *add is then that row (else nullptr),
  // and the caller must do *b = Op(*b, *add) element-wise before using *b.
  const A* parts(const InputView& in, const Geometry& g, i64 n, i64 oh, A** b_out, const T** add) {
    if (add != nullptr) *add = nullptr;
    const i64 b = oh / k_, j = oh - b * k_;
    if (n != n_ || b != b_ || j < plen_ || j < sfirst_) {  // rows come in order; else start over
      // Only the suffixes from j on: a task that starts inside a block (the second of two
      // threads on 13x13/s1 over 40 rows starts at j = 7) builds no rows it will not use.
      build_suffix(in, g, n, b, j);
      n_ = n;
      b_ = b;
      plen_ = 0;
      sfirst_ = j;
    }
    *b_out = nullptr;
    if (j == 0) return suf_.p;
    while (plen_ < j) {  // prefix of block b+1 up to padded row (b+1)k + j - 1
      const T* src = input(in, g, n, (b + 1) * k_ + plen_);
      if (plen_ == 0) {
        if (src) {
          copy_from(pre_.p, src, wc_);
        } else {
          fill(pre_.p, Op::template identity<A>(), wc_);
        }
      } else if (src) {
        if (add != nullptr && plen_ + 1 == j) {
          *add = src;
        } else {
          combine_from<Op>(pre_.p, src, wc_);
        }
      }
      ++plen_;
    }
    *b_out = pre_.p;
    return suf_.p + j * wc_;
  }

 private:
  const T* input(const InputView& in, const Geometry& g, i64 n, i64 u) const {
    const i64 x = u - g.h.pad_begin;
    return x >= 0 && x < g.H ? input_row<T>(in, n, x) : nullptr;
  }
  void build_suffix(const InputView& in, const Geometry& g, i64 n, i64 b, i64 jfirst) {
    for (i64 jj = k_ - 1; jj >= jfirst; --jj) {
      A* d = suf_.p + jj * wc_;
      const T* src = input(in, g, n, b * k_ + jj);
      if (jj == k_ - 1) {
        if (src) {
          copy_from(d, src, wc_);
        } else {
          fill(d, Op::template identity<A>(), wc_);
        }
      } else if (!src) {
        std::memcpy(d, d + wc_, static_cast<std::size_t>(wc_) * sizeof(A));
      } else if constexpr (std::is_same<A, T>::value) {
        combine3<Op>(d, src, d + wc_, wc_);
      } else {
        copy_from(d, src, wc_);  // Op(src, d + wc_): the earlier row first
        combine<Op>(d, d + wc_, wc_);
      }
    }
  }
  i64 k_, wc_;
  Scratch<A> suf_, pre_;
  i64 n_ = -1, b_ = -1, plen_ = 0, sfirst_ = 0;
};
