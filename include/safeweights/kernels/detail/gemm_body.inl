// Matrix-vector and matrix-matrix products against weights in F32, BF16 or
// F16, converted to float in registers; compiled once per instruction set
// (see convert_body.inl, whose lane loaders this file uses).
//
// y[m, o] = sum_i x[m, i] W(i, o) + bias[o], where W(i, o) is w[o, i] for
// weight_layout::out_in and w[i, o] for in_out.

// `width` weights as floats, the element type fixed at compile time.
template <dtype T>
inline ops::vf weight_lanes(const std::byte* p) noexcept {
  if constexpr (T == dtype::F32) return ops::load(reinterpret_cast<const float*>(p));
  else if constexpr (T == dtype::BF16) return bf16_lanes(p);
  else return f16_lanes(p);
}

template <dtype T>
inline float weight_scalar(const std::byte* p) noexcept {
  if constexpr (T == dtype::F32) return load_scalar<float>(p);
  else if constexpr (T == dtype::BF16) return bf16_scalar(p);
  else return f16_scalar(p);
}

template <dtype T>
inline constexpr std::size_t weight_bytes = T == dtype::F32 ? 4 : 2;

// ---------------------------------------------------------------- one row

// How far ahead of its use a weight byte is asked for: far enough to cover
// the latency of memory, near enough to stay in the L1 cache.
inline constexpr std::size_t gemv_prefetch_bytes = 1024;

// Outputs [n0, n1) of x . w^T for w [out, in]: a dot product per output row,
// four rows at a time (adjacent in memory), two accumulators each; each row
// is prefetched a cache line at a time ahead of its use.
template <dtype T>
inline void gemv_out_in(const float* x, const matrix_ref& w, float* y, std::size_t n0, std::size_t n1) noexcept {
  constexpr std::size_t W = ops::width, es = weight_bytes<T>;
  const std::size_t K = w.cols;
  std::size_t n = n0;
  for (; n + 4 <= n1; n += 4) {
    const std::byte* row[4];
    for (std::size_t r = 0; r < 4; ++r) row[r] = w.data + (n + r) * K * es;
    ops::vf acc[4][2];
    for (auto& a : acc) a[0] = a[1] = ops::zero();
    std::size_t k = 0;
    for (; k + 2 * W <= K; k += 2 * W) {
      if ((k * es) % 64 < 2 * W * es)
        for (std::size_t r = 0; r < 4; ++r) __builtin_prefetch(row[r] + k * es + gemv_prefetch_bytes);
      ops::vf x0 = ops::load(x + k), x1 = ops::load(x + k + W);
#pragma GCC unroll 4
      for (std::size_t r = 0; r < 4; ++r) {
        acc[r][0] = ops::fmadd(weight_lanes<T>(row[r] + k * es), x0, acc[r][0]);
        acc[r][1] = ops::fmadd(weight_lanes<T>(row[r] + (k + W) * es), x1, acc[r][1]);
      }
    }
    for (std::size_t r = 0; r < 4; ++r) {
      float s = ops::hsum(acc[r][0] + acc[r][1]);
      for (std::size_t kk = k; kk < K; ++kk) s += weight_scalar<T>(row[r] + kk * es) * x[kk];
      y[n + r] = s;
    }
  }
  for (; n < n1; ++n) {
    const std::byte* row = w.data + n * K * es;
    ops::vf acc = ops::zero();
    std::size_t k = 0;
    for (; k + W <= K; k += W) acc = ops::fmadd(weight_lanes<T>(row + k * es), ops::load(x + k), acc);
    float s = ops::hsum(acc);
    for (; k < K; ++k) s += weight_scalar<T>(row + k * es) * x[k];
    y[n] = s;
  }
}

// Outputs [n0, n1) of x . w for w [in, out]: y += x[k] w[k, :] row after
// row (four at a time), y worked on in blocks that stay in the L1 cache.
// The rows lie far apart, so the hardware's stream prefetchers restart at
// every one: the next four rows are prefetched while these four are used.
template <dtype T>
inline void gemv_in_out(const float* x, const matrix_ref& w, float* y, std::size_t n0, std::size_t n1) noexcept {
  constexpr std::size_t W = ops::width, es = weight_bytes<T>, block = 4096;
  const std::size_t K = w.rows, N = w.cols;
  for (std::size_t b0 = n0; b0 < n1; b0 += block) {
    const std::size_t b1 = b0 + block < n1 ? b0 + block : n1;
    for (std::size_t n = b0; n < b1; ++n) y[n] = 0.0f;
    std::size_t k = 0;
    for (; k + 4 <= K; k += 4) {
      const std::byte* r0 = w.data + k * N * es;
      const std::byte *r1 = r0 + N * es, *r2 = r1 + N * es, *r3 = r2 + N * es;
      const std::byte* ahead = k + 8 <= K ? r3 + N * es : nullptr;  // row k + 4
      ops::vf x0 = ops::set1(x[k]), x1 = ops::set1(x[k + 1]), x2 = ops::set1(x[k + 2]), x3 = ops::set1(x[k + 3]);
      std::size_t n = b0;
      for (; n + W <= b1; n += W) {
        if (ahead && (n * es) % 64 < W * es)
          for (std::size_t r = 0; r < 4; ++r) __builtin_prefetch(ahead + r * N * es + n * es);
        ops::vf acc = ops::load(y + n);
        acc = ops::fmadd(x0, weight_lanes<T>(r0 + n * es), acc);
        acc = ops::fmadd(x1, weight_lanes<T>(r1 + n * es), acc);
        acc = ops::fmadd(x2, weight_lanes<T>(r2 + n * es), acc);
        acc = ops::fmadd(x3, weight_lanes<T>(r3 + n * es), acc);
        ops::store(y + n, acc);
      }
      for (; n < b1; ++n)
        y[n] += x[k] * weight_scalar<T>(r0 + n * es) + x[k + 1] * weight_scalar<T>(r1 + n * es) +
                x[k + 2] * weight_scalar<T>(r2 + n * es) + x[k + 3] * weight_scalar<T>(r3 + n * es);
    }
    for (; k < K; ++k) {
      const std::byte* r0 = w.data + k * N * es;
      ops::vf x0 = ops::set1(x[k]);
      std::size_t n = b0;
      for (; n + W <= b1; n += W) ops::store(y + n, ops::fmadd(x0, weight_lanes<T>(r0 + n * es), ops::load(y + n)));
      for (; n < b1; ++n) y[n] += x[k] * weight_scalar<T>(r0 + n * es);
    }
  }
}

// ------------------------------------------------------- BF16 in pairs

// A BF16 weight is the top half of a float. One integer load of 2W weights
// holds, in each 32-bit lane, the pair (w[2j], w[2j + 1]): a shift gives the
// first as a float and a mask the second, with no shuffle, where widening
// each half separately costs a shuffle per W weights. The products then run
// on the even and odd elements apart: x is split once per call (out_in), or
// the outputs are kept split until the end of a block (in_out).
inline ops::vf bf16_even(ops::vi pairs) noexcept { return ops::as_float(ops::shl<16>(pairs)); }
inline ops::vf bf16_odd(ops::vi pairs, ops::vi high) noexcept { return ops::as_float(ops::and_i(pairs, high)); }

// gemv_out_in for BF16, given x's even elements `xe` and odd ones `xo` (K / 2 each).
inline void gemv_out_in_bf16(const float* x, const float* xe, const float* xo, const matrix_ref& w, float* y,
                             std::size_t n0, std::size_t n1) noexcept {
  constexpr std::size_t W = ops::width, step = 2 * W, es = 2;
  const std::size_t K = w.cols;
  const ops::vi high = ops::set1_i(static_cast<std::int32_t>(0xffff0000u));
  auto tail = [&](const std::byte* row, std::size_t k, float s) {
    for (; k < K; ++k) s += bf16_scalar(row + k * es) * x[k];
    return s;
  };
  std::size_t n = n0;
  for (; n + 4 <= n1; n += 4) {
    const std::byte* row[4];
    for (std::size_t r = 0; r < 4; ++r) row[r] = w.data + (n + r) * K * es;
    ops::vf acc[4][2];
    for (auto& a : acc) a[0] = a[1] = ops::zero();
    // The four rows lie back to back: while they are read, the next four
    // are fetched at the same pace, two cache lines a step.
    const std::byte* next = n + 8 <= n1 ? row[0] + 4 * K * es : nullptr;
    std::size_t k = 0;
    for (; k + step <= K; k += step) {
      if (next) {
        __builtin_prefetch(next + 4 * k * es);
        __builtin_prefetch(next + 4 * k * es + 64);
      }
      ops::vf e = ops::load(xe + k / 2), o = ops::load(xo + k / 2);
#pragma GCC unroll 4
      for (std::size_t r = 0; r < 4; ++r) {
        ops::vi v = ops::load_i32(row[r] + k * es);
        acc[r][0] = ops::fmadd(bf16_even(v), e, acc[r][0]);
        acc[r][1] = ops::fmadd(bf16_odd(v, high), o, acc[r][1]);
      }
    }
    for (std::size_t r = 0; r < 4; ++r) y[n + r] = tail(row[r], k, ops::hsum(acc[r][0] + acc[r][1]));
  }
  for (; n < n1; ++n) {
    const std::byte* row = w.data + n * K * es;
    ops::vf a = ops::zero(), b = ops::zero();
    std::size_t k = 0;
    for (; k + step <= K; k += step) {
      ops::vi v = ops::load_i32(row + k * es);
      a = ops::fmadd(bf16_even(v), ops::load(xe + k / 2), a);
      b = ops::fmadd(bf16_odd(v, high), ops::load(xo + k / 2), b);
    }
    y[n] = tail(row, k, ops::hsum(a + b));
  }
}

// gemv_in_out for BF16 over the input rows [k0, k1) only (a partial sum);
// n0 is even. Each block's outputs are summed as even and odd columns apart,
// in registers' order, and put back in order at its end.
inline void gemv_in_out_bf16(const float* x, const matrix_ref& w, float* y, std::size_t n0, std::size_t n1,
                             std::size_t k0, std::size_t k1) noexcept {
  constexpr std::size_t W = ops::width, step = 2 * W, es = 2, block = 2048;
  const std::size_t K = k1, N = w.cols;
  const ops::vi high = ops::set1_i(static_cast<std::int32_t>(0xffff0000u));
  alignas(64) float ye[block / 2], yo[block / 2];
  for (std::size_t b0 = n0; b0 < n1; b0 += block) {
    const std::size_t b1 = b0 + block < n1 ? b0 + block : n1;
    const std::size_t paired = (b1 - b0) / step * step;  // columns [b0, b0 + paired) go in pairs
    for (std::size_t j = 0; j < paired / 2; ++j) ye[j] = yo[j] = 0.0f;
    for (std::size_t n = b0 + paired; n < b1; ++n) y[n] = 0.0f;
    std::size_t k = k0;
    for (; k + 4 <= K; k += 4) {
      const std::byte* r0 = w.data + k * N * es;
      const std::byte *r1 = r0 + N * es, *r2 = r1 + N * es, *r3 = r2 + N * es;
      const std::byte* ahead = k + 8 <= K ? r3 + N * es : nullptr;  // row k + 4
      ops::vf x0 = ops::set1(x[k]), x1 = ops::set1(x[k + 1]), x2 = ops::set1(x[k + 2]), x3 = ops::set1(x[k + 3]);
      for (std::size_t c = 0; c < paired; c += step) {
        const std::size_t n = b0 + c;
        if (ahead && (n * es) % 64 < step * es)
          for (std::size_t r = 0; r < 4; ++r) __builtin_prefetch(ahead + r * N * es + n * es);
        ops::vi v0 = ops::load_i32(r0 + n * es), v1 = ops::load_i32(r1 + n * es);
        ops::vi v2 = ops::load_i32(r2 + n * es), v3 = ops::load_i32(r3 + n * es);
        ops::vf e = ops::load(ye + c / 2), o = ops::load(yo + c / 2);
        e = ops::fmadd(x0, bf16_even(v0), e);
        o = ops::fmadd(x0, bf16_odd(v0, high), o);
        e = ops::fmadd(x1, bf16_even(v1), e);
        o = ops::fmadd(x1, bf16_odd(v1, high), o);
        e = ops::fmadd(x2, bf16_even(v2), e);
        o = ops::fmadd(x2, bf16_odd(v2, high), o);
        e = ops::fmadd(x3, bf16_even(v3), e);
        o = ops::fmadd(x3, bf16_odd(v3, high), o);
        ops::store(ye + c / 2, e);
        ops::store(yo + c / 2, o);
      }
      for (std::size_t n = b0 + paired; n < b1; ++n)
        y[n] += x[k] * bf16_scalar(r0 + n * es) + x[k + 1] * bf16_scalar(r1 + n * es) +
                x[k + 2] * bf16_scalar(r2 + n * es) + x[k + 3] * bf16_scalar(r3 + n * es);
    }
    for (; k < K; ++k) {
      const std::byte* r0 = w.data + k * N * es;
      ops::vf x0 = ops::set1(x[k]);
      for (std::size_t c = 0; c < paired; c += step) {
        ops::vi v = ops::load_i32(r0 + (b0 + c) * es);
        ops::store(ye + c / 2, ops::fmadd(x0, bf16_even(v), ops::load(ye + c / 2)));
        ops::store(yo + c / 2, ops::fmadd(x0, bf16_odd(v, high), ops::load(yo + c / 2)));
      }
      for (std::size_t n = b0 + paired; n < b1; ++n) y[n] += x[k] * bf16_scalar(r0 + n * es);
    }
    for (std::size_t j = 0; j < paired / 2; ++j) {
      y[b0 + 2 * j] = ye[j];
      y[b0 + 2 * j + 1] = yo[j];
    }
  }
}

// ---------------------------------------------------------------- many rows

inline constexpr std::size_t gemm_mr = ops::gemm_rows;
inline constexpr std::size_t gemm_nr = ops::gemm_vectors * ops::width;
inline constexpr std::size_t gemm_kc = 256;
// Output columns packed at once: a 256 x 128 float block (128 KiB), the
// next block being prefetched and the rows' block stay within a 512 KiB L2.
inline constexpr std::size_t gemm_nc = 128;

// x [M, K] into blocks of gemm_mr rows, each K steps of gemm_mr values
// (rows past M are zeros), so the micro-kernel reads it sequentially.
inline void pack_rows(const float* x, std::size_t M, std::size_t x_stride, std::size_t K, float* dst) noexcept {
  for (std::size_t m0 = 0; m0 < M; m0 += gemm_mr) {
    float* block = dst + m0 * K;
    for (std::size_t r = 0; r < gemm_mr; ++r) {
      if (m0 + r < M) {
        const float* src = x + (m0 + r) * x_stride;
        for (std::size_t k = 0; k < K; ++k) block[k * gemm_mr + r] = src[k];
      } else {
        for (std::size_t k = 0; k < K; ++k) block[k * gemm_mr + r] = 0.0f;
      }
    }
  }
}

// Columns [n0, n0 + gemm_nr) of W(i, o) for i in [k0, k0 + kc), as floats,
// gemm_nr per step (columns past N are zeros). `tmp` holds gemm_nr x kc floats.
template <dtype T>
inline void pack_panel(const matrix_ref& w, weight_layout layout, std::size_t k0, std::size_t kc, std::size_t n0,
                       float* dst, float* tmp) noexcept {
  constexpr std::size_t W = ops::width, NR = gemm_nr, es = weight_bytes<T>;
  if (layout == weight_layout::in_out) {
    const std::size_t N = w.cols, valid = N - n0 < NR ? N - n0 : NR;
    for (std::size_t k = 0; k < kc; ++k) {
      const std::byte* src = w.data + ((k0 + k) * N + n0) * es;
      float* out = dst + k * NR;
      if (valid == NR) {
#pragma GCC unroll 4
        for (std::size_t v = 0; v < ops::gemm_vectors; ++v) ops::store(out + v * W, weight_lanes<T>(src + v * W * es));
      } else {
        for (std::size_t j = 0; j < NR; ++j) out[j] = j < valid ? weight_scalar<T>(src + j * es) : 0.0f;
      }
    }
    return;
  }
  // out_in: each output column is a contiguous row of w. Convert NR row
  // pieces into tmp, then transpose them into the panel a block at a time.
  const std::size_t K = w.cols, N = w.rows, valid = N - n0 < NR ? N - n0 : NR;
  for (std::size_t j = 0; j < NR; ++j) {
    float* row = tmp + j * kc;
    if (j >= valid) {
      for (std::size_t k = 0; k < kc; ++k) row[k] = 0.0f;
      continue;
    }
    const std::byte* src = w.data + ((n0 + j) * K + k0) * es;
    std::size_t k = 0;
    for (; k + W <= kc; k += W) ops::store(row + k, weight_lanes<T>(src + k * es));
    for (; k < kc; ++k) row[k] = weight_scalar<T>(src + k * es);
  }
  std::size_t k = 0;
  for (; k + W <= kc; k += W)
    for (std::size_t j = 0; j < NR; j += W) ops::transpose(tmp + j * kc + k, kc, dst + k * NR + j, NR);
  for (; k < kc; ++k)
    for (std::size_t j = 0; j < NR; ++j) dst[k * NR + j] = tmp[j * kc + k];
}

// Panels [q0, q1) for k in [k0, k0 + kc), panel q at dst + (q - q0) x kc x
// gemm_nr. For [in, out] weights each stored row is read once, left to right
// across every panel (rows lie far apart, on different pages: one pass per
// row keeps the TLB and the prefetchers on a row at a time).
template <dtype T>
inline void pack_block(const matrix_ref& w, weight_layout layout, std::size_t k0, std::size_t kc, std::size_t q0,
                       std::size_t q1, float* dst, float* tmp) noexcept {
  constexpr std::size_t W = ops::width, NR = gemm_nr, es = weight_bytes<T>;
  if (layout == weight_layout::out_in) {
    for (std::size_t q = q0; q < q1; ++q) pack_panel<T>(w, layout, k0, kc, q * NR, dst + (q - q0) * kc * NR, tmp);
    return;
  }
  const std::size_t N = w.cols;
  // Whole panels by vectors; a ragged last panel (if any) by pack_panel.
  const std::size_t full_end = std::min(q1, q0 + (N > q0 * NR ? (N - q0 * NR) / NR : 0));
  for (std::size_t k = 0; k < kc; ++k) {
    const std::byte* src = w.data + ((k0 + k) * N + q0 * NR) * es;
    for (std::size_t q = q0; q < full_end; ++q) {
      float* out = dst + (q - q0) * kc * NR + k * NR;
      const std::byte* from = src + (q - q0) * NR * es;
#pragma GCC unroll 4
      for (std::size_t v = 0; v < ops::gemm_vectors; ++v) ops::store(out + v * W, weight_lanes<T>(from + v * W * es));
    }
  }
  for (std::size_t q = full_end; q < q1; ++q) pack_panel<T>(w, layout, k0, kc, q * NR, dst + (q - q0) * kc * NR, tmp);
}

// The cache lines of one weight block (k range x output columns range),
// handed to the prefetcher a few at a time while the block before it is
// being multiplied, so that reading the weights from memory overlaps the
// arithmetic instead of stalling the next packing.
struct block_prefetch {
  const std::byte* base = nullptr;
  std::size_t row_stride = 0, row_bytes = 0, rows = 0;  // in bytes, as stored
  std::size_t row = 0, offset = 0;

  void issue(std::size_t lines) noexcept {
    for (; lines && row < rows; --lines) {
      __builtin_prefetch(base + row * row_stride + offset, 0, 2);
      offset += 64;
      if (offset >= row_bytes) {
        offset = 0;
        ++row;
      }
    }
  }
};

// C[rows, cols] (+)= A-block . B-panel over kc steps, at most gemm_mr x
// gemm_nr; `init` (gemm_nr floats, e.g. the bias) starts the sums when not
// accumulating. One line of `prefetch` is issued every 8 steps.
inline void micro_kernel(const float* a, const float* b, std::size_t kc, float* c, std::size_t c_stride,
                         std::size_t rows, std::size_t cols, bool accumulate, const float* init,
                         block_prefetch& prefetch) noexcept {
  constexpr std::size_t MR = gemm_mr, NV = ops::gemm_vectors, W = ops::width, NR = gemm_nr;
  // The unroll pragmas make every loop over MR and NV disappear, so the
  // accumulators live in registers.
  ops::vf acc[MR][NV];
  const bool full = rows == MR && cols == NR;
  alignas(64) float tile[MR * NR];
  if (accumulate && !full)
    for (std::size_t r = 0; r < MR; ++r)
      for (std::size_t j = 0; j < NR; ++j) tile[r * NR + j] = r < rows && j < cols ? c[r * c_stride + j] : 0.0f;
  const float* start = !accumulate ? nullptr : full ? c : tile;
  const std::size_t start_stride = full ? c_stride : NR;
#pragma GCC unroll 8
  for (std::size_t r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (std::size_t v = 0; v < NV; ++v)
      acc[r][v] = start ? ops::load(start + r * start_stride + v * W) : init ? ops::load(init + v * W) : ops::zero();
  auto step = [&](std::size_t k) {
    ops::vf bv[NV];
#pragma GCC unroll 4
    for (std::size_t v = 0; v < NV; ++v) bv[v] = ops::load(b + k * NR + v * W);
#pragma GCC unroll 8
    for (std::size_t r = 0; r < MR; ++r) {
      ops::vf av = ops::set1(a[k * MR + r]);
#pragma GCC unroll 4
      for (std::size_t v = 0; v < NV; ++v) acc[r][v] = ops::fmadd(av, bv[v], acc[r][v]);
    }
  };
  std::size_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    prefetch.issue(1);
#pragma GCC unroll 8
    for (std::size_t kk = 0; kk < 8; ++kk) step(k + kk);
  }
  for (; k < kc; ++k) step(k);
  float* out = full ? c : tile;
  const std::size_t out_stride = full ? c_stride : NR;
#pragma GCC unroll 8
  for (std::size_t r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (std::size_t v = 0; v < NV; ++v) ops::store(out + r * out_stride + v * W, acc[r][v]);
  if (!full)
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t j = 0; j < cols; ++j) c[r * c_stride + j] = tile[r * NR + j];
}

// The stored rows that hold W(i, o) for i in [k0, k0 + kc), o in [n0, n1).
template <dtype T>
inline block_prefetch weight_block(const matrix_ref& w, weight_layout layout, std::size_t k0, std::size_t kc,
                                   std::size_t n0, std::size_t n1) noexcept {
  constexpr std::size_t es = weight_bytes<T>;
  if (layout == weight_layout::in_out) return {w.data + (k0 * w.cols + n0) * es, w.cols * es, (n1 - n0) * es, kc};
  return {w.data + (n0 * w.cols + k0) * es, w.cols * es, kc * es, n1 - n0};
}

// Panels [p0, p1) of gemm_nr output columns, every row: weight blocks of
// gemm_kc x gemm_nc are packed once and swept by every row block.
template <dtype T>
inline void gemm_panels(const float* packed_x, std::size_t M, std::size_t K, const matrix_ref& w, weight_layout layout,
                        const float* bias, float* y, std::size_t y_stride, std::size_t p0, std::size_t p1) noexcept {
  constexpr std::size_t NR = gemm_nr, MR = gemm_mr, panels_per_block = gemm_nc / NR;
  const std::size_t N = layout == weight_layout::in_out ? w.cols : w.rows;
  scratch& block_memory = SAFEWEIGHTS_THREAD_CACHED(scratch);
  scratch& tmp_memory = SAFEWEIGHTS_THREAD_CACHED(scratch);
  const std::size_t kc_max = K < gemm_kc ? K : gemm_kc;
  float* block = block_memory.floats(kc_max * gemm_nc);
  float* tmp = tmp_memory.floats(kc_max * NR);
  for (std::size_t q0 = p0; q0 < p1; q0 += panels_per_block) {
    const std::size_t q1 = q0 + panels_per_block < p1 ? q0 + panels_per_block : p1;
    for (std::size_t k0 = 0; k0 < K; k0 += gemm_kc) {
      const std::size_t kc = K - k0 < gemm_kc ? K - k0 : gemm_kc;
      pack_block<T>(w, layout, k0, kc, q0, q1, block, tmp);
      // The next block in this loop order, if any.
      block_prefetch next;
      if (k0 + gemm_kc < K) {
        std::size_t k1 = k0 + gemm_kc, kc1 = K - k1 < gemm_kc ? K - k1 : gemm_kc;
        next = weight_block<T>(w, layout, k1, kc1, q0 * NR, std::min(q1 * NR, N));
      } else if (q1 < p1) {
        std::size_t q2 = q1 + panels_per_block < p1 ? q1 + panels_per_block : p1;
        next = weight_block<T>(w, layout, 0, kc_max, q1 * NR, std::min(q2 * NR, N));
      }
      for (std::size_t q = q0; q < q1; ++q) {
        const std::size_t n0 = q * NR, cols = N - n0 < NR ? N - n0 : NR;
        for (std::size_t m0 = 0; m0 < M; m0 += MR) {
          micro_kernel(packed_x + m0 * K + k0 * MR, block + (q - q0) * kc * NR, kc, y + m0 * y_stride + n0, y_stride,
                       M - m0 < MR ? M - m0 : MR, cols, k0 > 0, bias ? bias + n0 : nullptr, next);
        }
      }
    }
  }
}

template <dtype T>
inline void gemm_typed(const float* x, std::size_t M, std::size_t x_stride, const matrix_ref& w, weight_layout layout,
                       const float* bias, float* y, std::size_t y_stride) {
  const std::size_t K = layout == weight_layout::in_out ? w.rows : w.cols;
  const std::size_t N = layout == weight_layout::in_out ? w.cols : w.rows;
  scratch& packed_memory = SAFEWEIGHTS_THREAD_CACHED(scratch);
  const std::size_t blocks = (M + gemm_mr - 1) / gemm_mr;
  float* packed_x = packed_memory.floats(blocks * gemm_mr * K);
  pack_rows(x, M, x_stride, K, packed_x);
  const std::size_t panels = (N + gemm_nr - 1) / gemm_nr;
  const std::size_t parts = std::min(parts_for(std::uint64_t{M} * N * K, std::uint64_t{1} << 21), panels);
  parallel_parts(parts, [&](std::size_t part) {
    gemm_panels<T>(packed_x, M, K, w, layout, bias, y, y_stride, panels * part / parts, panels * (part + 1) / parts);
  });
}

template <dtype T>
inline void gemv_typed(const float* x, const matrix_ref& w, weight_layout layout, float* y) {
  const std::size_t K = layout == weight_layout::in_out ? w.rows : w.cols;
  const std::size_t N = layout == weight_layout::in_out ? w.cols : w.rows;
  // BF16 against [out, in]: x's even and odd elements, split once for every part.
  scratch& split_memory = SAFEWEIGHTS_THREAD_CACHED(scratch);
  const float *xe = nullptr, *xo = nullptr;
  if (T == dtype::BF16 && layout == weight_layout::out_in) {
    float* e = split_memory.floats(K + 1);
    float* o = e + K / 2;
    for (std::size_t j = 0; j < K / 2; ++j) {
      e[j] = x[2 * j];
      o[j] = x[2 * j + 1];
    }
    xe = e;
    xo = o;
  }
  const std::size_t parts = parts_for(std::uint64_t{N} * K, std::uint64_t{1} << 16);
  if (T == dtype::BF16 && layout == weight_layout::in_out && parts > 1) {
    // Split the input rows: each part streams one contiguous run of the
    // matrix, as plain reading does, into its own partial sums (faster
    // than splitting the columns, whose runs are short and far apart).
    float* partial = split_memory.floats((parts - 1) * N + 1);
    parallel_parts(parts, [&](std::size_t part) {
      std::size_t k0 = K * part / parts / 4 * 4, k1 = part + 1 == parts ? K : K * (part + 1) / parts / 4 * 4;
      gemv_in_out_bf16(x, w, part == 0 ? y : partial + (part - 1) * N, 0, N, k0, k1);
    });
    for (std::size_t p = 1; p < parts; ++p)
      for (std::size_t n = 0; n < N; ++n) y[n] += partial[(p - 1) * N + n];
    return;
  }
  // Split the outputs in multiples of 16 (an even start for BF16 pairs), enough work each.
  parallel_parts(parts, [&](std::size_t part) {
    std::size_t units = (N + 15) / 16;
    std::size_t n0 = units * part / parts * 16, n1 = units * (part + 1) / parts * 16;
    if (n1 > N) n1 = N;
    if (n0 >= n1) return;
    if constexpr (T == dtype::BF16) {
      if (layout == weight_layout::in_out) gemv_in_out_bf16(x, w, y, n0, n1, 0, K);
      else gemv_out_in_bf16(x, xe, xo, w, y, n0, n1);
    } else if (layout == weight_layout::in_out) {
      gemv_in_out<T>(x, w, y, n0, n1);
    } else {
      gemv_out_in<T>(x, w, y, n0, n1);
    }
  });
}

// The bias (any compute type) as floats, padded with zeros to whole panels.
inline const float* bias_floats(const vector_ref* bias, std::size_t N, scratch& memory) {
  if (!bias || !bias->data) return nullptr;
  std::size_t padded = (N + gemm_nr - 1) / gemm_nr * gemm_nr;
  float* out = memory.floats(padded);
  to_f32(bias->type, bias->data, out, N);
  for (std::size_t i = N; i < padded; ++i) out[i] = 0.0f;
  return out;
}

inline void gemm(const float* x, std::size_t M, std::size_t x_stride, const matrix_ref& w, weight_layout layout,
                 const vector_ref* bias, float* y, std::size_t y_stride) {
  scratch& bias_memory = SAFEWEIGHTS_THREAD_CACHED(scratch);
  const float* b = bias_floats(bias, layout == weight_layout::in_out ? w.cols : w.rows, bias_memory);
  switch (w.type) {
    case dtype::BF16: return gemm_typed<dtype::BF16>(x, M, x_stride, w, layout, b, y, y_stride);
    case dtype::F16: return gemm_typed<dtype::F16>(x, M, x_stride, w, layout, b, y, y_stride);
    default: return gemm_typed<dtype::F32>(x, M, x_stride, w, layout, b, y, y_stride);
  }
}

inline void gemv(const float* x, const matrix_ref& w, weight_layout layout, const vector_ref* bias, float* y) {
  switch (w.type) {
    case dtype::BF16: gemv_typed<dtype::BF16>(x, w, layout, y); break;
    case dtype::F16: gemv_typed<dtype::F16>(x, w, layout, y); break;
    default: gemv_typed<dtype::F32>(x, w, layout, y); break;
  }
  if (bias && bias->data) {
    const std::size_t N = layout == weight_layout::in_out ? w.cols : w.rows;
    scratch& bias_memory = SAFEWEIGHTS_THREAD_CACHED(scratch);
    float* b = bias_memory.floats(N);
    to_f32(bias->type, bias->data, b, N);
    std::size_t n = 0;
    for (; n + ops::width <= N; n += ops::width) ops::store(y + n, ops::load(y + n) + ops::load(b + n));
    for (; n < N; ++n) y[n] += b[n];
  }
}
