// The weight gradient of a 2-D convolution on the CPU, as an XLA FFI custom call.
//
// dW[kh, kw, c, o] = sum over n, oh, ow of x[n, oh*sh + kh - pt, ow*sw + kw - pl, c] * dy[n, oh, ow, o]
// with x (N, H, W, C) and dy (N, OH, OW, O) row-major (Flax's NHWC) and dW (KH, KW, C, O) (HWIO);
// positions outside x are the convolution's zero padding. XLA:CPU computes this with Eigen kernels
// that jaxlib compiles for plain AVX; this file is compiled on the machine that runs it
// (-march=native, cs231n_jax/nn/cpu_kernels.py), so the loops below use its widest vectors.
//
// Work: for every image, for every kernel tap (kh, kw), a block of CB input channels by OV vectors
// of output channels stays in registers while the tap's valid output positions stream past; the
// image's x and dy (<= a few hundred KiB) stay in cache across the taps. Images are split into a
// fixed number of chunks, each summed into its own buffer and the buffers added in chunk order, so
// the result does not depend on which thread ran which chunk (bitwise reproducible run to run).

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

// A 64-byte vector of T (GCC / Clang vector extension; an alias template would drop the attribute).
template <typename T>
struct VecOf {
  typedef T type __attribute__((vector_size(64)));
};
template <typename T>
using Vec = typename VecOf<T>::type;
template <typename T>
constexpr int kLanes = 64 / sizeof(T);

template <typename T>
inline Vec<T> Load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <typename T>
inline void Store(T* p, Vec<T> v) {
  std::memcpy(p, &v, sizeof(v));
}

struct Geometry {
  int64_t n, h, w, c, oh, ow, o, kh, kw, sh, sw, pt, pl;
};

// Rounds a / b towards +infinity for b > 0 and any sign of a.
inline int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// The output positions [lo, hi) whose input position for tap k lies inside the image.
struct Range {
  int64_t lo, hi;
};
inline Range ValidOutputs(int64_t tap, int64_t pad, int64_t stride, int64_t in_size, int64_t out_size) {
  return {std::max<int64_t>(0, CeilDiv(pad - tap, stride)),
          std::min<int64_t>(out_size, CeilDiv(in_size + pad - tap, stride))};
}

// dw[tap, c0:c0+CB, o0:o0+OV*lanes] += the tap's sum over the valid outputs of one image.
template <typename T, int CB, int OV>
void Block(const Geometry& g, const T* x, const T* dy, T* dw_tap, int64_t tap_h, int64_t tap_w, int64_t c0,
           int64_t o0, Range rows, Range cols) {
  constexpr int L = kLanes<T>;
  Vec<T> acc[CB][OV];
  T* out = dw_tap + c0 * g.o + o0;
  for (int c = 0; c < CB; ++c)
    for (int v = 0; v < OV; ++v) acc[c][v] = Load(out + c * g.o + v * L);
  for (int64_t r = rows.lo; r < rows.hi; ++r) {
    const T* x_row = x + (r * g.sh + tap_h - g.pt) * g.w * g.c + c0;
    const T* dy_row = dy + r * g.ow * g.o + o0;
    for (int64_t q = cols.lo; q < cols.hi; ++q) {
      const T* xp = x_row + (q * g.sw + tap_w - g.pl) * g.c;
      const T* dp = dy_row + q * g.o;
      Vec<T> d[OV];
      for (int v = 0; v < OV; ++v) d[v] = Load(dp + v * L);
      for (int c = 0; c < CB; ++c) {
        const T xv = xp[c];
        for (int v = 0; v < OV; ++v) acc[c][v] += xv * d[v];
      }
    }
  }
  for (int c = 0; c < CB; ++c)
    for (int v = 0; v < OV; ++v) Store(out + c * g.o + v * L, acc[c][v]);
}

template <typename T, int CB, int OV>
void Blocks(const Geometry& g, const T* x, const T* dy, T* dw_tap, int64_t tap_h, int64_t tap_w, int64_t c_lo,
            int64_t c_hi, int64_t o_lo, int64_t o_hi, Range rows, Range cols) {
  constexpr int L = kLanes<T>;
  for (int64_t c = c_lo; c + CB <= c_hi; c += CB)
    for (int64_t o = o_lo; o + OV * L <= o_hi; o += OV * L)
      Block<T, CB, OV>(g, x, dy, dw_tap, tap_h, tap_w, c, o, rows, cols);
}

// Output channels past the last whole vector (O not a multiple of the lanes): scalar loops.
template <typename T>
void TailColumns(const Geometry& g, const T* x, const T* dy, T* dw_tap, int64_t tap_h, int64_t tap_w,
                 int64_t o_lo, Range rows, Range cols) {
  for (int64_t r = rows.lo; r < rows.hi; ++r) {
    const T* x_row = x + (r * g.sh + tap_h - g.pt) * g.w * g.c;
    const T* dy_row = dy + r * g.ow * g.o;
    for (int64_t q = cols.lo; q < cols.hi; ++q) {
      const T* xp = x_row + (q * g.sw + tap_w - g.pl) * g.c;
      const T* dp = dy_row + q * g.o;
      for (int64_t c = 0; c < g.c; ++c)
        for (int64_t o = o_lo; o < g.o; ++o) dw_tap[c * g.o + o] += xp[c] * dp[o];
    }
  }
}

// dw += the weight gradient of one image (x and dy point at that image).
template <typename T>
void AccumulateImage(const Geometry& g, const T* x, const T* dy, T* dw) {
  constexpr int L = kLanes<T>;
  const int64_t o_wide = g.o / (2 * L) * (2 * L), o_vec = g.o / L * L;
  const int64_t c8 = g.c / 8 * 8, c4 = c8 + (g.c - c8) / 4 * 4;
  for (int64_t i = 0; i < g.kh; ++i) {
    const Range rows = ValidOutputs(i, g.pt, g.sh, g.h, g.oh);
    if (rows.lo >= rows.hi) continue;
    for (int64_t j = 0; j < g.kw; ++j) {
      const Range cols = ValidOutputs(j, g.pl, g.sw, g.w, g.ow);
      if (cols.lo >= cols.hi) continue;
      T* dw_tap = dw + (i * g.kw + j) * g.c * g.o;
      Blocks<T, 8, 2>(g, x, dy, dw_tap, i, j, 0, c8, 0, o_wide, rows, cols);
      Blocks<T, 4, 2>(g, x, dy, dw_tap, i, j, c8, c4, 0, o_wide, rows, cols);
      Blocks<T, 1, 2>(g, x, dy, dw_tap, i, j, c4, g.c, 0, o_wide, rows, cols);
      Blocks<T, 8, 1>(g, x, dy, dw_tap, i, j, 0, c8, o_wide, o_vec, rows, cols);
      Blocks<T, 4, 1>(g, x, dy, dw_tap, i, j, c8, c4, o_wide, o_vec, rows, cols);
      Blocks<T, 1, 1>(g, x, dy, dw_tap, i, j, c4, g.c, o_wide, o_vec, rows, cols);
      if (o_vec < g.o) TailColumns<T>(g, x, dy, dw_tap, i, j, o_vec, rows, cols);
    }
  }
}

// At most this many partial sums: fixed, so that results do not depend on the thread count.
constexpr int64_t kMaxChunks = 8;

// Chunks of images shared between the calling thread and the tasks it schedules. Tasks claim chunks
// from a counter; the caller claims too, so it never waits for a task that has not started (a pool
// whose threads are all busy cannot deadlock it), only for chunks that some thread is running.
template <typename T>
struct Work {
  Geometry g;
  const T* x;
  const T* dy;
  int64_t chunks, weight_size;
  std::vector<T> partial;  // chunks x weight_size
  std::atomic<int64_t> next{0};
  std::mutex mu;
  std::condition_variable cv;
  int64_t finished = 0;

  // Runs chunks until none is left; returns how many this thread finished.
  void Run() {
    int64_t done = 0;
    for (int64_t k; (k = next.fetch_add(1)) < chunks; ++done) {
      T* sum = partial.data() + k * weight_size;
      std::fill(sum, sum + weight_size, T(0));
      const int64_t image_size = g.h * g.w * g.c, grad_size = g.oh * g.ow * g.o;
      for (int64_t b = g.n * k / chunks; b < g.n * (k + 1) / chunks; ++b)
        AccumulateImage<T>(g, x + b * image_size, dy + b * grad_size, sum);
    }
    if (done > 0) {
      std::lock_guard<std::mutex> lock(mu);
      finished += done;
      cv.notify_all();
    }
    return;
  }
};

template <typename T>
void WeightGrad(ffi::ThreadPool& pool, const Geometry& g, const T* x, const T* dy, T* dw) {
  const int64_t weight_size = g.kh * g.kw * g.c * g.o;
  auto work = std::make_shared<Work<T>>();
  work->g = g;
  work->x = x;
  work->dy = dy;
  work->chunks = std::max<int64_t>(1, std::min<int64_t>(g.n, kMaxChunks));
  work->weight_size = weight_size;
  work->partial.resize(work->chunks * weight_size);
  const int64_t helpers = std::min<int64_t>(pool.num_threads(), work->chunks) - 1;
  for (int64_t t = 0; t < helpers; ++t) pool.Schedule([work] { work->Run(); });
  work->Run();
  {
    std::unique_lock<std::mutex> lock(work->mu);
    work->cv.wait(lock, [&] { return work->finished == work->chunks; });
  }
  std::copy(work->partial.begin(), work->partial.begin() + weight_size, dw);
  for (int64_t k = 1; k < work->chunks; ++k) {
    const T* sum = work->partial.data() + k * weight_size;
    for (int64_t i = 0; i < weight_size; ++i) dw[i] += sum[i];
  }
}


// ----------------------------------------------------------------------------- the convolution

// y[b, r, q, o0:o0+OV*lanes] for the P output columns q0..q0+P-1 of one output row; `rows` holds
// the KH padded input rows that row reads (Wp columns of C channels each, zeros where padding).
template <typename T, int P, int OV>
void ConvBlock(const Geometry& g, int64_t wp, const T* rows, const T* w, T* y_row, int64_t q0, int64_t o0) {
  constexpr int L = kLanes<T>;
  Vec<T> acc[P][OV];
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < OV; ++v) acc[p][v] = Vec<T>{} ;
  for (int64_t i = 0; i < g.kh; ++i) {
    const T* row = rows + i * wp * g.c;
    for (int64_t j = 0; j < g.kw; ++j) {
      const T* w_tap = w + (i * g.kw + j) * g.c * g.o + o0;
      const T* xp = row + (q0 * g.sw + j) * g.c;
      for (int64_t c = 0; c < g.c; ++c) {
        Vec<T> wv[OV];
        for (int v = 0; v < OV; ++v) wv[v] = Load(w_tap + c * g.o + v * L);
        for (int p = 0; p < P; ++p) {
          const T xv = xp[p * g.sw * g.c + c];
          for (int v = 0; v < OV; ++v) acc[p][v] += xv * wv[v];
        }
      }
    }
  }
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < OV; ++v) Store(y_row + (q0 + p) * g.o + o0 + v * L, acc[p][v]);
}

template <typename T, int P, int OV>
int64_t ConvBlocks(const Geometry& g, int64_t wp, const T* rows, const T* w, T* y_row, int64_t q_lo, int64_t o_lo,
                   int64_t o_hi) {
  constexpr int L = kLanes<T>;
  int64_t q = q_lo;
  for (; q + P <= g.ow; q += P)
    for (int64_t o = o_lo; o + OV * L <= o_hi; o += OV * L) ConvBlock<T, P, OV>(g, wp, rows, w, y_row, q, o);
  return q;
}

// One output row of one image: copies the input rows it reads into `rows` with the padding made
// explicit, then runs the register blocks (and scalar loops for the last O % lanes channels).
template <typename T>
void ConvRow(const Geometry& g, const T* x, const T* w, T* y_row, int64_t r, std::vector<T>& rows) {
  constexpr int L = kLanes<T>;
  const int64_t wp = (g.ow - 1) * g.sw + g.kw;
  rows.assign(g.kh * wp * g.c, T(0));
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t ih = r * g.sh + i - g.pt;
    if (ih < 0 || ih >= g.h) continue;
    const int64_t col_lo = std::max<int64_t>(0, g.pl), col_hi = std::min<int64_t>(wp, g.w + g.pl);
    if (col_lo < col_hi)
      std::copy(x + (ih * g.w + col_lo - g.pl) * g.c, x + (ih * g.w + col_hi - g.pl) * g.c,
                rows.data() + (i * wp + col_lo) * g.c);
  }
  const int64_t o_wide = g.o / (2 * L) * (2 * L), o_vec = g.o / L * L;
  int64_t q = ConvBlocks<T, 4, 2>(g, wp, rows.data(), w, y_row, 0, 0, o_wide);
  ConvBlocks<T, 1, 2>(g, wp, rows.data(), w, y_row, q, 0, o_wide);
  q = ConvBlocks<T, 8, 1>(g, wp, rows.data(), w, y_row, 0, o_wide, o_vec);
  ConvBlocks<T, 1, 1>(g, wp, rows.data(), w, y_row, q, o_wide, o_vec);
  for (int64_t q = 0; q < g.ow; ++q)
    for (int64_t o = o_vec; o < g.o; ++o) {
      T sum = 0;
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j)
          for (int64_t c = 0; c < g.c; ++c)
            sum += rows[(i * wp + q * g.sw + j) * g.c + c] * w[((i * g.kw + j) * g.c + c) * g.o + o];
      y_row[q * g.o + o] = sum;
    }
}

// Output rows shared between the caller and its helper tasks (see Work: the same protocol, no sums).
template <typename T>
struct ConvWork {
  Geometry g;
  const T* x;
  const T* w;
  T* y;
  std::atomic<int64_t> next{0};
  std::mutex mu;
  std::condition_variable cv;
  int64_t finished = 0;

  void Run() {
    std::vector<T> rows;
    int64_t done = 0;
    const int64_t units = g.n * g.oh;
    for (int64_t u; (u = next.fetch_add(1)) < units; ++done) {
      const int64_t b = u / g.oh, r = u % g.oh;
      ConvRow<T>(g, x + b * g.h * g.w * g.c, w, y + (b * g.oh + r) * g.ow * g.o, r, rows);
    }
    if (done > 0) {
      std::lock_guard<std::mutex> lock(mu);
      finished += done;
      cv.notify_all();
    }
  }
};

template <typename T>
void Conv(ffi::ThreadPool& pool, const Geometry& g, const T* x, const T* w, T* y) {
  auto work = std::make_shared<ConvWork<T>>();
  work->g = g;
  work->x = x;
  work->w = w;
  work->y = y;
  const int64_t units = g.n * g.oh;
  const int64_t helpers = std::min<int64_t>(pool.num_threads(), units) - 1;
  for (int64_t t = 0; t < helpers; ++t) pool.Schedule([work] { work->Run(); });
  work->Run();
  std::unique_lock<std::mutex> lock(work->mu);
  work->cv.wait(lock, [&] { return work->finished == units; });
}

ffi::Error Conv2dImpl(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer w, ffi::Result<ffi::AnyBuffer> y,
                      int64_t stride_h, int64_t stride_w, int64_t pad_top, int64_t pad_left) {
  const auto xd = x.dimensions(), wd = w.dimensions(), yd = y->dimensions();
  if (xd.size() != 4 || wd.size() != 4 || yd.size() != 4)
    return ffi::Error::InvalidArgument("conv: x, w and y must be 4-D (NHWC, HWIO, NHWC)");
  if (x.element_type() != w.element_type() || x.element_type() != y->element_type())
    return ffi::Error::InvalidArgument("conv: x, w and y must share one dtype");
  if (yd[0] != xd[0] || wd[2] != xd[3] || wd[3] != yd[3] || stride_h < 1 || stride_w < 1)
    return ffi::Error::InvalidArgument("conv: inconsistent shapes or strides");
  const Geometry g{xd[0], xd[1], xd[2], xd[3], yd[1], yd[2], yd[3], wd[0], wd[1],
                   stride_h, stride_w, pad_top, pad_left};
  switch (x.element_type()) {
    case ffi::DataType::F32:
      Conv<float>(pool, g, x.typed_data<float>(), w.typed_data<float>(), y->typed_data<float>());
      return ffi::Error::Success();
    case ffi::DataType::F64:
      Conv<double>(pool, g, x.typed_data<double>(), w.typed_data<double>(), y->typed_data<double>());
      return ffi::Error::Success();
    default:
      return ffi::Error::InvalidArgument("conv: dtype must be float32 or float64");
  }
}

ffi::Error ConvWeightGradImpl(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer dy,
                              ffi::Result<ffi::AnyBuffer> dw, int64_t stride_h, int64_t stride_w,
                              int64_t pad_top, int64_t pad_left) {
  const auto xd = x.dimensions(), dyd = dy.dimensions(), dwd = dw->dimensions();
  if (xd.size() != 4 || dyd.size() != 4 || dwd.size() != 4)
    return ffi::Error::InvalidArgument("conv weight gradient: x, dy and dw must be 4-D (NHWC, NHWC, HWIO)");
  if (x.element_type() != dy.element_type() || x.element_type() != dw->element_type())
    return ffi::Error::InvalidArgument("conv weight gradient: x, dy and dw must share one dtype");
  if (dyd[0] != xd[0] || dwd[2] != xd[3] || dwd[3] != dyd[3] || stride_h < 1 || stride_w < 1)
    return ffi::Error::InvalidArgument("conv weight gradient: inconsistent shapes or strides");
  const Geometry g{xd[0], xd[1], xd[2], xd[3], dyd[1], dyd[2], dyd[3], dwd[0], dwd[1],
                   stride_h, stride_w, pad_top, pad_left};
  switch (x.element_type()) {
    case ffi::DataType::F32:
      WeightGrad<float>(pool, g, x.typed_data<float>(), dy.typed_data<float>(), dw->typed_data<float>());
      return ffi::Error::Success();
    case ffi::DataType::F64:
      WeightGrad<double>(pool, g, x.typed_data<double>(), dy.typed_data<double>(), dw->typed_data<double>());
      return ffi::Error::Success();
    default:
      return ffi::Error::InvalidArgument("conv weight gradient: dtype must be float32 or float64");
  }
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(ConvWeightGrad, ConvWeightGradImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<int64_t>("stride_h")
                                  .Attr<int64_t>("stride_w")
                                  .Attr<int64_t>("pad_top")
                                  .Attr<int64_t>("pad_left"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(Conv2d, Conv2dImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<int64_t>("stride_h")
                                  .Attr<int64_t>("stride_w")
                                  .Attr<int64_t>("pad_top")
                                  .Attr<int64_t>("pad_left"));
