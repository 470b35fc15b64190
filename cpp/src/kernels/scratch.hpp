// Scratch memory: the per-thread ScratchArena and Scratch<A> blocks.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// ---------------------------------------------------------------------------------------------
// Scratch memory: one block per task chunk (never per window), cache-line aligned.
//
// Blocks come from a per-thread arena: a 4x4 call spent ~40% of its time in malloc/free of
// its scratch rows and tables (perf, cpu-clock), and tiny images (256 x 24x24x3) pay that
// per task. The arena hands blocks out stack-wise from one buffer per thread and reuses the
// space when the top block comes back, or all of them have; a request that does not fit goes
// to the heap and the buffer grows (up to kArenaKeep) once nothing is handed out. The same
// idea as the per-thread scratch pools of oneDNN and XNNPACK's workspace.
class ScratchArena {
 public:
  static constexpr std::size_t kArenaKeep = std::size_t{1} << 20;
  static ScratchArena& local() {
    thread_local ScratchArena arena;
    return arena;
  }
  void* take(std::size_t bytes) {
    bytes = round(bytes);
    if (bytes <= cap_ - top_) {
      void* p = base_ + top_;
      top_ += bytes;
      ++live_;
      return p;
    }
    if (top_ + bytes > want_) want_ = top_ + bytes;
    if (live_ == 0 && grow()) return take(bytes);
    return nullptr;
  }
  void give(void* p, std::size_t bytes) {
    bytes = round(bytes);
    --live_;
    if (static_cast<char*>(p) + bytes == base_ + top_) top_ -= bytes;
    if (live_ == 0) {
      top_ = 0;
      grow();
    }
  }
  ~ScratchArena() { release(); }

 private:
  static std::size_t round(std::size_t b) { return (b + 63) & ~std::size_t{63}; }
  // With nothing handed out: a buffer for the largest total seen so far, if worth keeping.
  bool grow() {
    if (want_ <= cap_ || want_ > kArenaKeep) return false;
    std::size_t cap = std::size_t{16} << 10;
    while (cap < want_) cap *= 2;
    release();
    base_ = static_cast<char*>(::operator new(cap, std::align_val_t{64}));
    cap_ = cap;
    top_ = 0;
    return true;
  }
  void release() {
    if (base_) ::operator delete(base_, std::align_val_t{64});
    base_ = nullptr;
    cap_ = 0;
  }
  char* base_ = nullptr;
  std::size_t cap_ = 0, top_ = 0, want_ = 0;
  i64 live_ = 0;
};

template <class A>
class Scratch {
 public:
  explicit Scratch(i64 n) {
    if (n > 0) {
      bytes_ = static_cast<std::size_t>(n) * sizeof(A);
      arena_ = &ScratchArena::local();
      void* q = arena_->take(bytes_);
      if (q == nullptr) {
        arena_ = nullptr;
        q = ::operator new(bytes_, std::align_val_t{64});
      }
      p = static_cast<A*>(q);
    }
  }
  ~Scratch() {
    if (p == nullptr) return;
    if (arena_ != nullptr) {
      arena_->give(p, bytes_);
    } else {
      ::operator delete(p, std::align_val_t{64});
    }
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  A* p = nullptr;

 private:
  ScratchArena* arena_ = nullptr;  // the constructing thread's arena (blocks return there)
  std::size_t bytes_ = 0;
};
