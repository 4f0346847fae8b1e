// The weight gradient of a 2-D convolution on the CPU, as an XLA FFI custom call.
//
// dW[kh, kw, c, o] = sum over n, oh, ow of x[n, oh*sh + kh - pt, ow*sw + kw - pl, c] * dy[n, oh, ow, o]
// with x (N, H, W, C) and dy (N, OH, OW, O) row-major (Flax's NHWC) and dW (KH, KW, C, O) (HWIO);
// positions outside x are the convolution's zero padding. XLA:CPU computes this with Eigen kernels
// that jaxlib compiles for plain AVX; this file is compiled on the machine that runs it
// (-march=native, cs231n_jax/cpu/kernels.py), so the loops below use its widest vectors.
//
// Work: for every image, for every kernel tap (kh, kw), a block of CB input channels by OV vectors
// of output channels stays in registers while the tap's valid output positions stream past (for 1-3
// input channels, three taps of a kernel row at once); the image's x and dy (<= a few hundred KiB)
// stay in cache across the taps. Images are split into a fixed number of chunks, each summed into
// its own buffer and the buffers added in chunk order, so the result does not depend on which
// thread ran which chunk (bitwise reproducible run to run).

#include <algorithm>
#include <cmath>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
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

// Input channels [0, C) of one tap in blocks of CB (CB * OV accumulators), then of 4, then single.
template <typename T, int CB, int OV>
void ChannelBlocks(const Geometry& g, const T* x, const T* dy, T* dw_tap, int64_t tap_h, int64_t tap_w,
                   int64_t o_lo, int64_t o_hi, Range rows, Range cols) {
  const int64_t c_wide = g.c / CB * CB, c4 = c_wide + (g.c - c_wide) / 4 * 4;
  Blocks<T, CB, OV>(g, x, dy, dw_tap, tap_h, tap_w, 0, c_wide, o_lo, o_hi, rows, cols);
  Blocks<T, 4, OV>(g, x, dy, dw_tap, tap_h, tap_w, c_wide, c4, o_lo, o_hi, rows, cols);
  Blocks<T, 1, OV>(g, x, dy, dw_tap, tap_h, tap_w, c4, g.c, o_lo, o_hi, rows, cols);
}

// Like Block for an input of C = CB < 4 channels (an RGB image's 3), where CB * OV sums are too few
// to keep the FMA units busy: the JB taps (tap_h, j0 .. j0 + JB - 1) of one kernel row at once, over
// the output columns where all of them are valid; JB * CB * OV accumulators.
template <typename T, int JB, int CB, int OV>
void TapsBlock(const Geometry& g, const T* x, const T* dy, T* dw, int64_t tap_h, int64_t j0, int64_t o0,
               Range rows, Range cols) {
  constexpr int L = kLanes<T>;
  Vec<T> acc[JB][CB][OV];
  T* out = dw + (tap_h * g.kw + j0) * CB * g.o + o0;  // tap j0 + t at out + t * CB * O
  for (int t = 0; t < JB; ++t)
    for (int c = 0; c < CB; ++c)
      for (int v = 0; v < OV; ++v) acc[t][c][v] = Load(out + (t * CB + c) * g.o + v * L);
  for (int64_t r = rows.lo; r < rows.hi; ++r) {
    const T* x_row = x + (r * g.sh + tap_h - g.pt) * g.w * CB;
    const T* dy_row = dy + r * g.ow * g.o + o0;
    for (int64_t q = cols.lo; q < cols.hi; ++q) {
      const T* xp = x_row + (q * g.sw + j0 - g.pl) * CB;  // the JB taps' pixels, CB channels apart
      const T* dp = dy_row + q * g.o;
      Vec<T> d[OV];
      for (int v = 0; v < OV; ++v) d[v] = Load(dp + v * L);
      for (int t = 0; t < JB; ++t)
        for (int c = 0; c < CB; ++c) {
          const T xv = xp[t * CB + c];
          for (int v = 0; v < OV; ++v) acc[t][c][v] += xv * d[v];
        }
    }
  }
  for (int t = 0; t < JB; ++t)
    for (int c = 0; c < CB; ++c)
      for (int v = 0; v < OV; ++v) Store(out + (t * CB + c) * g.o + v * L, acc[t][c][v]);
}

// Kernel row tap_h of the weight gradient for C = CB < 4 input channels, output channels [o_lo, o_hi)
// in groups of OV vectors: three taps at a time where all three are valid, single taps elsewhere.
template <typename T, int CB, int OV>
void FewChannelsRow(const Geometry& g, const T* x, const T* dy, T* dw, int64_t tap_h, int64_t o_lo, int64_t o_hi,
                    Range rows) {
  constexpr int L = kLanes<T>, JB = 3;
  const auto single = [&](int64_t j, Range cols) {
    if (cols.lo < cols.hi)
      Blocks<T, CB, OV>(g, x, dy, dw + (tap_h * g.kw + j) * CB * g.o, tap_h, j, 0, CB, o_lo, o_hi, rows, cols);
  };
  int64_t j0 = 0;
  for (; j0 + JB <= g.kw; j0 += JB) {
    Range common{0, g.ow};
    for (int64_t j = j0; j < j0 + JB; ++j) {
      const Range cols = ValidOutputs(j, g.pl, g.sw, g.w, g.ow);
      common = {std::max(common.lo, cols.lo), std::min(common.hi, cols.hi)};
    }
    if (common.lo < common.hi)
      for (int64_t o = o_lo; o + OV * L <= o_hi; o += OV * L)
        TapsBlock<T, JB, CB, OV>(g, x, dy, dw, tap_h, j0, o, rows, common);
    for (int64_t j = j0; j < j0 + JB; ++j) {  // the columns outside `common`
      const Range cols = ValidOutputs(j, g.pl, g.sw, g.w, g.ow);
      if (common.lo >= common.hi) {
        single(j, cols);
        continue;
      }
      single(j, {cols.lo, std::min(cols.hi, common.lo)});
      single(j, {std::max(cols.lo, common.hi), cols.hi});
    }
  }
  for (; j0 < g.kw; ++j0) single(j0, ValidOutputs(j0, g.pl, g.sw, g.w, g.ow));
}

template <typename T, int CB>
void FewChannels(const Geometry& g, const T* x, const T* dy, T* dw, int64_t tap_h, Range rows) {
  constexpr int L = kLanes<T>;
  const int64_t o_wide = g.o / (2 * L) * (2 * L), o_vec = g.o / L * L;
  FewChannelsRow<T, CB, 2>(g, x, dy, dw, tap_h, 0, o_wide, rows);
  FewChannelsRow<T, CB, 1>(g, x, dy, dw, tap_h, o_wide, o_vec, rows);
}

// dw += the weight gradient of one image (x and dy point at that image).
template <typename T>
void AccumulateImage(const Geometry& g, const T* x, const T* dy, T* dw) {
  constexpr int L = kLanes<T>;
  const int64_t o_wide = g.o / (2 * L) * (2 * L), o_vec = g.o / L * L;
  for (int64_t i = 0; i < g.kh; ++i) {
    const Range rows = ValidOutputs(i, g.pt, g.sh, g.h, g.oh);
    if (rows.lo >= rows.hi) continue;
    if (g.c < 4) {
      if (g.c == 1) FewChannels<T, 1>(g, x, dy, dw, i, rows);
      if (g.c == 2) FewChannels<T, 2>(g, x, dy, dw, i, rows);
      if (g.c == 3) FewChannels<T, 3>(g, x, dy, dw, i, rows);
    }
    for (int64_t j = 0; j < g.kw; ++j) {
      const Range cols = ValidOutputs(j, g.pl, g.sw, g.w, g.ow);
      if (cols.lo >= cols.hi) continue;
      T* dw_tap = dw + (i * g.kw + j) * g.c * g.o;
      if (g.c >= 4) {
        ChannelBlocks<T, 8, 2>(g, x, dy, dw_tap, i, j, 0, o_wide, rows, cols);
        ChannelBlocks<T, 16, 1>(g, x, dy, dw_tap, i, j, o_wide, o_vec, rows, cols);
      }
      if (o_vec < g.o) TailColumns<T>(g, x, dy, dw_tap, i, j, o_vec, rows, cols);
    }
  }
}

// At most this many partial sums: fixed, so that results do not depend on the thread count.
constexpr int64_t kMaxChunks = 8;

// Runs fn(u) for every u in [0, units), shared between the calling thread and up to
// pool.num_threads() - 1 tasks it schedules. Tasks claim units from a counter; the caller claims too,
// so it never waits for a task that has not started (a pool whose threads are all busy cannot
// deadlock it), only for units that some thread is running. A task that starts after the last unit
// was claimed returns at once without touching fn's data.
template <typename F>
void ParallelFor(ffi::ThreadPool& pool, int64_t units, const F& fn) {
  struct State {
    std::atomic<int64_t> next{0};
    std::mutex mu;
    std::condition_variable cv;
    int64_t finished = 0;
  };
  auto state = std::make_shared<State>();
  auto run = [state, units, fn] {
    int64_t done = 0;
    for (int64_t u; (u = state->next.fetch_add(1)) < units; ++done) fn(u);
    if (done > 0) {
      std::lock_guard<std::mutex> lock(state->mu);
      state->finished += done;
      state->cv.notify_all();
    }
  };
  const int64_t helpers = std::min<int64_t>(pool.num_threads(), units) - 1;
  for (int64_t t = 0; t < helpers; ++t) pool.Schedule([run] { run(); });
  run();
  std::unique_lock<std::mutex> lock(state->mu);
  state->cv.wait(lock, [&] { return state->finished == units; });
}

template <typename T>
void WeightGrad(ffi::ThreadPool& pool, const Geometry& g, const T* x, const T* dy, T* dw) {
  const int64_t weight_size = g.kh * g.kw * g.c * g.o;
  const int64_t image_size = g.h * g.w * g.c, grad_size = g.oh * g.ow * g.o;
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(g.n, kMaxChunks));
  std::vector<T> partial(chunks * weight_size, T(0));  // one sum per chunk of images
  ParallelFor(pool, chunks, [&](int64_t k) {
    T* sum = partial.data() + k * weight_size;
    for (int64_t b = g.n * k / chunks; b < g.n * (k + 1) / chunks; ++b)
      AccumulateImage<T>(g, x + b * image_size, dy + b * grad_size, sum);
  });
  std::copy(partial.begin(), partial.begin() + weight_size, dw);
  for (int64_t k = 1; k < chunks; ++k) {
    const T* sum = partial.data() + k * weight_size;
    for (int64_t i = 0; i < weight_size; ++i) dw[i] += sum[i];
  }
}

// ----------------------------------------------------------------------------- the convolution

// y[q0 + p, o0 : o0 + OV * lanes] of one output row for p < P: P columns by OV vectors of output
// channels, summed in registers. `rows` holds the KH padded input rows the output row reads (Wp
// columns of C channels each, zeros where padding). P * OV accumulators keep both FMA units busy;
// each input channel costs P broadcasts and OV weight loads.
template <typename T, int P, int OV>
void ConvBlock(const Geometry& g, int64_t wp, const T* rows, const T* w, T* y_row, int64_t q0, int64_t o0) {
  constexpr int L = kLanes<T>;
  Vec<T> acc[P][OV];
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < OV; ++v) acc[p][v] = Vec<T>{};
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      const T* w_tap = w + (i * g.kw + j) * g.c * g.o + o0;
      const T* xp = rows + i * wp * g.c + (q0 * g.sw + j) * g.c;
      for (int64_t c = 0; c < g.c; ++c) {
        Vec<T> wv[OV];
        for (int v = 0; v < OV; ++v) wv[v] = Load(w_tap + c * g.o + v * L);
        for (int p = 0; p < P; ++p) {
          const T xv = xp[p * g.sw * g.c + c];
          for (int v = 0; v < OV; ++v) acc[p][v] += xv * wv[v];
        }
      }
    }
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < OV; ++v) Store(y_row + (q0 + p) * g.o + o0 + v * L, acc[p][v]);
}

// Output channels [o_lo, o_hi) (whole groups of OV vectors) of one output row: blocks of P columns,
// then of 4, then single columns.
template <typename T, int P, int OV>
void ConvColumns(const Geometry& g, int64_t wp, const T* rows, const T* w, T* y_row, int64_t o_lo, int64_t o_hi) {
  constexpr int L = kLanes<T>;
  int64_t q = 0;
  for (; q + P <= g.ow; q += P)
    for (int64_t o = o_lo; o + OV * L <= o_hi; o += OV * L) ConvBlock<T, P, OV>(g, wp, rows, w, y_row, q, o);
  for (; q + 4 <= g.ow; q += 4)
    for (int64_t o = o_lo; o + OV * L <= o_hi; o += OV * L) ConvBlock<T, 4, OV>(g, wp, rows, w, y_row, q, o);
  for (; q < g.ow; ++q)
    for (int64_t o = o_lo; o + OV * L <= o_hi; o += OV * L) ConvBlock<T, 1, OV>(g, wp, rows, w, y_row, q, o);
}

// One output row: 8 columns by 2 vectors of output channels where they divide, 16 columns by 1
// vector for the rest (16 accumulators either way), scalar loops for the last O % lanes channels.
template <typename T>
void ConvRow(const Geometry& g, int64_t wp, const T* rows, const T* w, T* y_row) {
  constexpr int L = kLanes<T>;
  const int64_t o_wide = g.o / (2 * L) * (2 * L), o_vec = g.o / L * L;
  ConvColumns<T, 8, 2>(g, wp, rows, w, y_row, 0, o_wide);
  ConvColumns<T, 16, 1>(g, wp, rows, w, y_row, o_wide, o_vec);
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

// Output rows [r_lo, r_hi) of one image: copies the input rows they read into `band` once, with the
// padding made explicit (zeros), then runs each output row's blocks on it.
template <typename T>
void ConvBand(const Geometry& g, const T* x, const T* w, T* y, int64_t r_lo, int64_t r_hi, std::vector<T>& band) {
  const int64_t wp = (g.ow - 1) * g.sw + g.kw, first = r_lo * g.sh - g.pt;
  const int64_t count = (r_hi - 1 - r_lo) * g.sh + g.kh;
  const int64_t col_lo = std::max<int64_t>(0, g.pl), col_hi = std::min<int64_t>(wp, g.w + g.pl);
  band.resize(count * wp * g.c);
  for (int64_t i = 0; i < count; ++i) {
    T* dst = band.data() + i * wp * g.c;
    const int64_t ih = first + i;
    if (ih < 0 || ih >= g.h || col_lo >= col_hi) {
      std::fill(dst, dst + wp * g.c, T(0));
      continue;
    }
    std::fill(dst, dst + col_lo * g.c, T(0));
    std::copy(x + (ih * g.w + col_lo - g.pl) * g.c, x + (ih * g.w + col_hi - g.pl) * g.c, dst + col_lo * g.c);
    std::fill(dst + col_hi * g.c, dst + wp * g.c, T(0));
  }
  for (int64_t r = r_lo; r < r_hi; ++r)
    ConvRow<T>(g, wp, band.data() + (r - r_lo) * g.sh * wp * g.c, w, y + r * g.ow * g.o);
}

// Output rows per unit of work: whole images when the batch alone gives every thread several units,
// fewer rows otherwise; and at most as many as keep a band's input rows within kBandBytes (in L2).
constexpr int64_t kBandBytes = 256 << 10;
inline int64_t BandRows(const Geometry& g, int64_t threads, int64_t element_size) {
  const int64_t bands = std::min<int64_t>(g.oh, std::max<int64_t>(1, CeilDiv(8 * threads, g.n)));
  const int64_t row_bytes = ((g.ow - 1) * g.sw + g.kw) * g.c * g.sh * element_size;
  return std::max<int64_t>(1, std::min<int64_t>(CeilDiv(g.oh, bands), kBandBytes / row_bytes));
}

// One unit of work per (image, band of output rows). Every output element is computed by the same
// sequence of operations whatever the bands, so the result does not depend on the thread count.
template <typename T>
void Conv(ffi::ThreadPool& pool, const Geometry& g, const T* x, const T* w, T* y) {
  const int64_t rows = BandRows(g, pool.num_threads(), sizeof(T)), bands = CeilDiv(g.oh, rows);
  ParallelFor(pool, g.n * bands, [&](int64_t u) {
    thread_local std::vector<T> band;
    const int64_t b = u / bands, r_lo = u % bands * rows;
    ConvBand<T>(g, x + b * g.h * g.w * g.c, w, y + b * g.oh * g.ow * g.o, r_lo, std::min(g.oh, r_lo + rows), band);
  });
}

// Calls run(T()) with T the C++ type of a float32 or float64 operand; any other dtype is an error.
template <typename Run>
ffi::Error ForFloatTypes(ffi::DataType type, const char* what, const Run& run) {
  switch (type) {
    case ffi::DataType::F32:
      return run(float());
    case ffi::DataType::F64:
      return run(double());
    default:
      return ffi::Error::InvalidArgument(std::string(what) + ": dtype must be float32 or float64");
  }
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
  return ForFloatTypes(x.element_type(), "conv", [&](auto type_tag) {
    using T = decltype(type_tag);
    Conv<T>(pool, g, x.typed_data<T>(), w.typed_data<T>(), y->typed_data<T>());
    return ffi::Error::Success();
  });
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
  return ForFloatTypes(x.element_type(), "conv weight gradient", [&](auto type_tag) {
    using T = decltype(type_tag);
    WeightGrad<T>(pool, g, x.typed_data<T>(), dy.typed_data<T>(), dw->typed_data<T>());
    return ffi::Error::Success();
  });
}

// ----------------------------------------------------------------------------- batch norm (training)
// x is (M, C): every axis but the last (channels) flattened. Statistics are over M, the variance
// biased (divided by M), as Flax's nn.BatchNorm. The layer's output is
//   y = act(z + residual),  z = (x - mean) * (scale / sqrt(var + eps)) + bias,
// act the identity or (kRelu) max(0, .), residual (kResidual) an array of x's shape -- the residual
// block's "relu(bn(conv(h)) + shortcut)" in one pass. The backward pass recomputes z + residual
// from x with the same expression, so forward and backward agree on the ReLU's mask.
// Rows are split into a fixed number of chunks whose sums (in double) are added in chunk order:
// bitwise reproducible whatever the thread count. Forward: two passes (statistics, then the
// output); backward: two passes (the two sums, then dx and the residual's gradient).

constexpr int64_t kStatChunks = 64;
constexpr int64_t kRowBlock = 32;  // rows summed in T before the sums move to double

struct Rows {
  int64_t m, c, chunks;
  int64_t Lo(int64_t k) const { return m * k / chunks; }
  int64_t Hi(int64_t k) const { return m * (k + 1) / chunks; }
};

// The passes below are written once for V = T (any C) and V = Vec<T> (C a multiple of the lanes).
template <typename V, typename T>
inline V LoadAs(const T* p) {
  if constexpr (std::is_same_v<V, T>) return *p;
  else return Load(p);
}
template <typename T>
inline void StoreFrom(T* p, T v) { *p = v; }
template <typename T>
inline void StoreFrom(T* p, Vec<T> v) { Store(p, v); }
template <typename T>
inline void AddTo(double* s, T v) { *s += static_cast<double>(v); }
template <typename T>
inline void AddTo(double* s, Vec<T> v) {
  for (int l = 0; l < kLanes<T>; ++l) s[l] += static_cast<double>(v[l]);
}
template <typename V>
inline V Zero() { return V{} * 0; }

// The layer's operands, and its options as template arguments.
template <typename T>
struct BatchNormArgs {
  Rows rows;
  double epsilon;
  const T *x, *scale, *bias, *residual;  // residual: null unless kResidual
  const T *mean, *var;                   // the batch's statistics (the forward pass computes them)
};

// Per-channel constants shared by the forward and backward passes, so that both compute the
// pre-activation with the same values.
template <typename T>
struct Channels {
  std::vector<T> inv_std, mul;  // 1 / sqrt(var + eps), and that times scale
  Channels(const BatchNormArgs<T>& a) : inv_std(a.rows.c), mul(a.rows.c) {
    for (int64_t j = 0; j < a.rows.c; ++j) {
      inv_std[j] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(a.var[j]) + a.epsilon));
      mul[j] = inv_std[j] * a.scale[j];
    }
  }
};

// z + residual at element (r, j .. j + lanes), from x - mean.
template <bool kResidual, typename V, typename T>
inline V PreActivation(const BatchNormArgs<T>& a, const Channels<T>& ch, int64_t r, int64_t j, V centered) {
  V z = centered * LoadAs<V>(ch.mul.data() + j) + LoadAs<V>(a.bias + j);
  if constexpr (kResidual) z += LoadAs<V>(a.residual + r * a.rows.c + j);
  return z;
}

// Per-chunk sums over rows [lo, hi): s1 += sum of u, s2 += sum of w, where (u, w) = term(row, j)
// for the channels j .. j + lanes. Blocks of kRowBlock rows are summed in T -- in registers, four
// partial sums over alternate rows so that the additions do not wait on each other -- then added in
// double.
template <typename V, typename T, typename Term>
void ChunkSums(const Rows& rows, int64_t k, double* s1, double* s2, const Term& term) {
  constexpr int64_t step = sizeof(V) / sizeof(T);
  for (int64_t r0 = rows.Lo(k); r0 < rows.Hi(k); r0 += kRowBlock) {
    const int64_t r1 = std::min(rows.Hi(k), r0 + kRowBlock);
    for (int64_t j = 0; j < rows.c; j += step) {
      V u[4] = {Zero<V>(), Zero<V>(), Zero<V>(), Zero<V>()}, w[4] = {Zero<V>(), Zero<V>(), Zero<V>(), Zero<V>()};
      int64_t r = r0;
      for (; r + 4 <= r1; r += 4)
        for (int i = 0; i < 4; ++i) term(r + i, j, u[i], w[i]);
      for (; r < r1; ++r) term(r, j, u[0], w[0]);
      AddTo<T>(s1 + j, (u[0] + u[1]) + (u[2] + u[3]));
      AddTo<T>(s2 + j, (w[0] + w[1]) + (w[2] + w[3]));
    }
  }
}

// Both sums of every channel over all rows: per chunk in parallel, then added in chunk order.
template <typename V, typename T, typename Term>
void ChannelSums(ffi::ThreadPool& pool, const Rows& rows, std::vector<double>* sum1, std::vector<double>* sum2,
                 const Term& term) {
  const int64_t c = rows.c;
  std::vector<double> partial(rows.chunks * 2 * c, 0.0);
  ParallelFor(pool, rows.chunks, [&](int64_t k) {
    ChunkSums<V, T>(rows, k, partial.data() + k * 2 * c, partial.data() + k * 2 * c + c, term);
  });
  sum1->assign(c, 0.0);
  sum2->assign(c, 0.0);
  for (int64_t k = 0; k < rows.chunks; ++k)
    for (int64_t j = 0; j < c; ++j) {
      (*sum1)[j] += partial[k * 2 * c + j];
      (*sum2)[j] += partial[k * 2 * c + c + j];
    }
}

template <bool kRelu, bool kResidual, typename V, typename T>
void BatchNormForward(ffi::ThreadPool& pool, BatchNormArgs<T> a, T* y, T* mean, T* var) {
  const Rows& rows = a.rows;
  const int64_t c = rows.c;
  const T* x = a.x;
  // Sums of x - x[0] (shifted, so that the variance does not cancel when |mean| >> std).
  std::vector<double> s1, s2;
  ChannelSums<V, T>(pool, rows, &s1, &s2, [&](int64_t r, int64_t j, V& u, V& w) {
    const V d = LoadAs<V>(x + r * c + j) - LoadAs<V>(x + j);
    u += d;
    w += d * d;
  });
  for (int64_t j = 0; j < c; ++j) {
    const double shifted_mean = s1[j] / rows.m;
    mean[j] = static_cast<T>(static_cast<double>(x[j]) + shifted_mean);
    var[j] = static_cast<T>(std::max(0.0, s2[j] / rows.m - shifted_mean * shifted_mean));
  }
  a.mean = mean;
  a.var = var;
  const Channels<T> ch(a);
  constexpr int64_t step = sizeof(V) / sizeof(T);
  ParallelFor(pool, rows.chunks, [&](int64_t k) {
    for (int64_t r = rows.Lo(k); r < rows.Hi(k); ++r)
      for (int64_t j = 0; j < c; j += step) {
        V z = PreActivation<kResidual>(a, ch, r, j, LoadAs<V>(x + r * c + j) - LoadAs<V>(a.mean + j));
        if constexpr (kRelu) z = z > Zero<V>() ? z : Zero<V>();
        StoreFrom(y + r * c + j, z);
      }
  });
}

// dx, dscale, dbias (and, kResidual, dresidual) from dy.
template <bool kRelu, bool kResidual, typename V, typename T>
void BatchNormBackward(ffi::ThreadPool& pool, const BatchNormArgs<T>& a, const T* dy, T* dx, T* dscale, T* dbias,
                       T* dresidual) {
  const Rows& rows = a.rows;
  const int64_t c = rows.c;
  const Channels<T> ch(a);
  // g: dy where the output is positive (kRelu), else dy -- the gradient of z + residual.
  const auto masked = [&](int64_t r, int64_t j, V centered) {
    const V d = LoadAs<V>(dy + r * c + j);
    if constexpr (kRelu) return PreActivation<kResidual>(a, ch, r, j, centered) > Zero<V>() ? d : Zero<V>();
    else return d;
  };
  std::vector<double> sg, sgx;  // sums of g and of g * xhat
  ChannelSums<V, T>(pool, rows, &sg, &sgx, [&](int64_t r, int64_t j, V& u, V& w) {
    const V centered = LoadAs<V>(a.x + r * c + j) - LoadAs<V>(a.mean + j);
    const V g = masked(r, j, centered);
    u += g;
    w += g * (centered * LoadAs<V>(ch.inv_std.data() + j));
  });
  std::vector<T> shift(c), slope(c);  // dx = mul * (g - shift) - (x - mean) * slope
  for (int64_t j = 0; j < c; ++j) {
    dbias[j] = static_cast<T>(sg[j]);
    dscale[j] = static_cast<T>(sgx[j]);
    shift[j] = static_cast<T>(sg[j] / rows.m);
    slope[j] = static_cast<T>(static_cast<double>(ch.mul[j]) * static_cast<double>(ch.inv_std[j]) * sgx[j] / rows.m);
  }
  constexpr int64_t step = sizeof(V) / sizeof(T);
  ParallelFor(pool, rows.chunks, [&](int64_t k) {
    for (int64_t r = rows.Lo(k); r < rows.Hi(k); ++r)
      for (int64_t j = 0; j < c; j += step) {
        const V centered = LoadAs<V>(a.x + r * c + j) - LoadAs<V>(a.mean + j);
        const V g = masked(r, j, centered);
        if constexpr (kResidual) StoreFrom(dresidual + r * c + j, g);
        StoreFrom(dx + r * c + j, LoadAs<V>(ch.mul.data() + j) * (g - LoadAs<V>(shift.data() + j)) -
                                      centered * LoadAs<V>(slope.data() + j));
      }
  });
}

// Calls kernel<kRelu, kResidual, V, T>(args...) for the options given at run time, with V the
// vector of T when the channels split into whole vectors, else T.
template <template <bool, bool, typename, typename> class Kernel, typename T, typename... Args>
void Dispatch(bool relu, bool residual, int64_t c, Args&&... args) {
  const bool vector = c % kLanes<T> == 0;
  const int which = (relu ? 4 : 0) + (residual ? 2 : 0) + (vector ? 1 : 0);
  switch (which) {
    case 0: return Kernel<false, false, T, T>::Run(args...);
    case 1: return Kernel<false, false, Vec<T>, T>::Run(args...);
    case 2: return Kernel<false, true, T, T>::Run(args...);
    case 3: return Kernel<false, true, Vec<T>, T>::Run(args...);
    case 4: return Kernel<true, false, T, T>::Run(args...);
    case 5: return Kernel<true, false, Vec<T>, T>::Run(args...);
    case 6: return Kernel<true, true, T, T>::Run(args...);
    default: return Kernel<true, true, Vec<T>, T>::Run(args...);
  }
}
template <bool kRelu, bool kResidual, typename V, typename T>
struct ForwardKernel {
  template <typename... Args>
  static void Run(Args&&... args) { BatchNormForward<kRelu, kResidual, V, T>(args...); }
};
template <bool kRelu, bool kResidual, typename V, typename T>
struct BackwardKernel {
  template <typename... Args>
  static void Run(Args&&... args) { BatchNormBackward<kRelu, kResidual, V, T>(args...); }
};

// Checks the operands' shapes and dtypes; fills a's rows (x is (..., C), the rest C values or x's shape).
template <typename T>
ffi::Error MakeArgs(const char* what, ffi::AnyBuffer x, ffi::AnyBuffer scale, ffi::AnyBuffer bias,
                    ffi::AnyBuffer residual, bool has_residual, double epsilon,
                    std::initializer_list<ffi::AnyBuffer> per_channel, std::initializer_list<ffi::AnyBuffer> like_x,
                    BatchNormArgs<T>* a) {
  const auto xd = x.dimensions();
  if (xd.size() < 1) return ffi::Error::InvalidArgument(std::string(what) + ": x must have a channel axis");
  const int64_t c = xd[xd.size() - 1], m = c > 0 ? static_cast<int64_t>(x.element_count()) / c : 0;
  if (m < 1) return ffi::Error::InvalidArgument(std::string(what) + ": x must not be empty");
  for (const auto& v : per_channel)
    if (v.element_type() != x.element_type() || v.element_count() != static_cast<size_t>(c))
      return ffi::Error::InvalidArgument(std::string(what) + ": per-channel operands must be C values of x's dtype");
  for (const auto& v : like_x)
    if (v.element_type() != x.element_type() || v.element_count() != x.element_count())
      return ffi::Error::InvalidArgument(std::string(what) + ": dy and the residual must have x's shape and dtype");
  if (has_residual && (residual.element_type() != x.element_type() || residual.element_count() != x.element_count()))
    return ffi::Error::InvalidArgument(std::string(what) + ": the residual must have x's shape and dtype");
  *a = BatchNormArgs<T>{{m, c, std::max<int64_t>(1, std::min<int64_t>(m, kStatChunks))}, epsilon,
                        x.typed_data<T>(), scale.typed_data<T>(), bias.typed_data<T>(),
                        has_residual ? residual.typed_data<T>() : nullptr, nullptr, nullptr};
  return ffi::Error::Success();
}

// Operands x, scale, bias, residual (a placeholder of one element when residual == 0).
ffi::Error BatchNormForwardImpl(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer scale, ffi::AnyBuffer bias,
                                ffi::AnyBuffer residual, ffi::Result<ffi::AnyBuffer> y,
                                ffi::Result<ffi::AnyBuffer> mean, ffi::Result<ffi::AnyBuffer> var, double epsilon,
                                int64_t relu, int64_t has_residual) {
  const auto run = [&](auto type_tag) {
    using T = decltype(type_tag);
    BatchNormArgs<T> a;
    if (auto e = MakeArgs<T>("batch norm", x, scale, bias, residual, has_residual, epsilon, {scale, bias}, {}, &a);
        e.failure())
      return e;
    Dispatch<ForwardKernel, T>(relu, has_residual, a.rows.c, pool, a, y->typed_data<T>(), mean->typed_data<T>(),
                               var->typed_data<T>());
    return ffi::Error::Success();
  };
  return ForFloatTypes(x.element_type(), "batch norm", run);
}

// Operands x, scale, bias, mean, var, residual (placeholder), dy; results dx, dscale, dbias and
// dresidual (a placeholder of one element when residual == 0).
ffi::Error BatchNormBackwardImpl(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer scale, ffi::AnyBuffer bias,
                                 ffi::AnyBuffer mean, ffi::AnyBuffer var, ffi::AnyBuffer residual, ffi::AnyBuffer dy,
                                 ffi::Result<ffi::AnyBuffer> dx, ffi::Result<ffi::AnyBuffer> dscale,
                                 ffi::Result<ffi::AnyBuffer> dbias, ffi::Result<ffi::AnyBuffer> dresidual,
                                 double epsilon, int64_t relu, int64_t has_residual) {
  const auto run = [&](auto type_tag) {
    using T = decltype(type_tag);
    BatchNormArgs<T> a;
    if (auto e = MakeArgs<T>("batch norm gradient", x, scale, bias, residual, has_residual, epsilon,
                             {scale, bias, mean, var}, {dy}, &a);
        e.failure())
      return e;
    a.mean = mean.typed_data<T>();
    a.var = var.typed_data<T>();
    Dispatch<BackwardKernel, T>(relu, has_residual, a.rows.c, pool, a, dy.typed_data<T>(), dx->typed_data<T>(),
                                dscale->typed_data<T>(), dbias->typed_data<T>(),
                                has_residual ? dresidual->typed_data<T>() : nullptr);
    return ffi::Error::Success();
  };
  return ForFloatTypes(x.element_type(), "batch norm gradient", run);
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

XLA_FFI_DEFINE_HANDLER_SYMBOL(BatchNorm, BatchNormForwardImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<double>("epsilon")
                                  .Attr<int64_t>("relu")
                                  .Attr<int64_t>("residual"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(BatchNormGrad, BatchNormBackwardImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<double>("epsilon")
                                  .Attr<int64_t>("relu")
                                  .Attr<int64_t>("residual"));
