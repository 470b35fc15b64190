// Element types understood by the core. Pure C++: no Python here.
#pragma once
#include <cstdint>

namespace nhwcpool {

enum class DType : int {
  f16 = 0, f32, f64, i8, u8, i16, u16, i32, i64, u32, u64,
};
constexpr int kNumDTypes = 11;

// IEEE binary16 stored as raw bits; kernels convert it to float.
struct half_t {
  std::uint16_t bits;
};

inline int itemsize(DType t) {
  switch (t) {
    case DType::f16: case DType::i16: case DType::u16: return 2;
    case DType::f32: case DType::i32: case DType::u32: return 4;
    case DType::f64: case DType::i64: case DType::u64: return 8;
    case DType::i8: case DType::u8: return 1;
  }
  return 0;
}

const char* dtype_name(DType t);

}  // namespace nhwcpool
