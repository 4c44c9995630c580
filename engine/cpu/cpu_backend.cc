#include "engine/cpu/cpu_backend.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/check.h"
#include "absl/strings/str_cat.h"
#include "common/parallel.h"
#include "engine/cpu/vec_math.h"
#include "engine/rope_table.h"

namespace kvlab {
namespace {

// 64-byte aligned host memory.
class HostStorage : public Storage {
 public:
  HostStorage(void* p, size_t bytes) : p_(p), bytes_(bytes) {}
  ~HostStorage() override { std::free(p_); }
  Device device() const override { return Device::kCpu; }
  void* address() const override { return p_; }
  size_t bytes() const override { return bytes_; }

 private:
  void* p_;
  size_t bytes_;
};

void CheckCpuF32(const Tensor& t, const char* what) {
  CHECK(t.defined()) << what << " is undefined";
  CHECK(t.device() == Device::kCpu) << what << " is not on the CPU";
  CHECK(t.dtype() == DType::kF32) << what << " is not f32";
}

// Rows of a 16-bit weight matrix widened to f32 at a time (~1 MiB at
// in = 4096): small enough to stay in the core's L2 while BLAS reads them.
constexpr int64_t kWidenRows = 64;

// out[:, b:e) (+ bias) = x @ w[b:e)^T for f32 w rows at `wp` (row stride in).
void LinearRows(const float* xp, int64_t n, int64_t in, const float* wp, int64_t b, int64_t e, int64_t outd,
                const Tensor& bias, float* op) {
  if (n == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, e - b, in, 1.0f, wp, in, xp, 1, 0.0f, op + b, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, e - b, in, 1.0f, xp, in, wp, in, 0.0f, op + b, outd);
  }
  if (bias.defined()) {
    const float* bp = bias.data<float>();
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = b; j < e; ++j) op[i * outd + j] += bp[j];
    }
  }
}

class CpuBackend : public Backend {
 public:
  explicit CpuBackend(DType weights) : weights_(weights) {
    // kvlab parallelizes across its own worker pool and calls BLAS from
    // several threads at once, so BLAS itself runs single-threaded.
    openblas_set_num_threads(1);
  }

  Device device() const override { return Device::kCpu; }
  std::string name() const override { return "cpu"; }
  DType kv_dtype() const override { return DType::kF32; }
  DType MatrixDType(DType) const override { return weights_; }

  absl::StatusOr<Tensor> Allocate(DType dtype, std::vector<int64_t> shape) override {
    int64_t n = 1;
    for (int64_t d : shape) {
      if (d < 0) return absl::InvalidArgumentError("negative tensor dimension");
      n *= d;
    }
    size_t bytes = static_cast<size_t>(n) * DTypeSize(dtype);
    size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (p == nullptr) {
      return absl::ResourceExhaustedError(absl::StrCat("cannot allocate ", bytes, " bytes of host memory"));
    }
    return Tensor(std::make_shared<HostStorage>(p, rounded), dtype, std::move(shape));
  }

  absl::Status Upload(const void* host, const Tensor& dst) override {
    std::memcpy(dst.data<void>(), host, dst.bytes());
    return absl::OkStatus();
  }
  absl::Status Download(const Tensor& src, void* host) override {
    std::memcpy(host, src.data<void>(), src.bytes());
    return absl::OkStatus();
  }
  absl::Status Synchronize() override { return absl::OkStatus(); }

  void Embed(const Tensor& table, std::span<const int32_t> ids, const Tensor& out) override {
    CHECK(table.dtype() == weights_) << "embedding table is not " << DTypeName(weights_);
    CheckCpuF32(out, "embedding output");
    const int64_t d = table.dim(1);
    const size_t es = DTypeSize(table.dtype());
    CHECK_EQ(out.dim(0), static_cast<int64_t>(ids.size()));
    for (size_t i = 0; i < ids.size(); ++i) {
      CHECK(ids[i] >= 0 && ids[i] < table.dim(0)) << "token id out of range";
      ConvertToF32(table.dtype(), table.data<char>() + ids[i] * d * es, d, out.data<float>() + i * d);
    }
  }

  void RmsNorm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) override {
    CheckCpuF32(x, "rmsnorm input");
    const int64_t n = x.dim(0), d = x.dim(-1);
    const float* w = weight.data<float>();
    ParallelFor(n, 16, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const float* xi = x.data<float>() + i * d;
        float* oi = out.data<float>() + i * d;
        float ss = 0;
        for (int64_t j = 0; j < d; ++j) ss += xi[j] * xi[j];
        float inv = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
        for (int64_t j = 0; j < d; ++j) oi[j] = w[j] * (xi[j] * inv);
      }
    });
  }

  void Linear(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out) override {
    CheckCpuF32(x, "linear input");
    CHECK(w.dtype() == weights_) << "linear weight is not " << DTypeName(weights_);
    const int64_t n = x.dim(0), in = x.dim(-1), outd = w.dim(0);
    CHECK_EQ(w.dim(1), in) << "linear: weight " << w.ShapeString() << " vs input " << x.ShapeString();
    CHECK_EQ(out.dim(-1), outd);
    const float* xp = x.data<float>();
    float* op = out.data<float>();
    // Split the output features across threads; each part is one BLAS call
    // (16-bit weights: one per block of rows widened to f32).
    ParallelFor(outd, 64, [&](int64_t b, int64_t e) {
      if (w.dtype() == DType::kF32) {
        LinearRows(xp, n, in, w.data<float>() + b * in, b, e, outd, bias, op);
        return;
      }
      thread_local std::vector<float> wide;
      wide.resize(kWidenRows * in);
      const size_t es = DTypeSize(w.dtype());
      for (int64_t r = b; r < e; r += kWidenRows) {
        const int64_t re = std::min(e, r + kWidenRows);
        ConvertToF32(w.dtype(), w.data<char>() + r * in * es, (re - r) * in, wide.data());
        LinearRows(xp, n, in, wide.data(), r, re, outd, bias, op);
      }
    });
  }

  void RopeTable(std::span<const int32_t> positions, std::span<const float> inv_freq,
                 const Tensor& table) override {
    FillRopeTable(positions, inv_freq, table.data<float>());
  }

  void ApplyRope(const Tensor& x, const Tensor& table) override {
    CheckCpuF32(x, "rope input");
    const int64_t n = x.dim(0), heads = x.dim(1), hd = x.dim(2), half = hd / 2;
    ParallelFor(n, 8, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const float* cs = table.data<float>() + i * half * 2;
        for (int64_t h = 0; h < heads; ++h) {
          float* v = x.data<float>() + (i * heads + h) * hd;
          for (int64_t j = 0; j < half; ++j) {
            float c = cs[2 * j], s = cs[2 * j + 1];
            float x1 = v[j], x2 = v[j + half];
            v[j] = x1 * c - x2 * s;
            v[j + half] = x2 * c + x1 * s;
          }
        }
      }
    });
  }

  void SwiGlu(const Tensor& gate, const Tensor& up, const Tensor& out) override {
    const int64_t n = gate.num_elements();
    const float* g = gate.data<float>();
    const float* u = up.data<float>();
    float* o = out.data<float>();
    ParallelFor(n, 4096, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) o[i] = cpu::Silu(g[i]) * u[i];
    });
  }

  void AddInPlace(const Tensor& x, const Tensor& y) override {
    CHECK_EQ(x.num_elements(), y.num_elements());
    float* a = x.data<float>();
    const float* b = y.data<float>();
    const int64_t n = x.num_elements();
    for (int64_t i = 0; i < n; ++i) a[i] += b[i];
  }

  void AddRmsNorm(const Tensor& x, const Tensor& y, const Tensor& weight, float eps, const Tensor& out) override {
    AddInPlace(x, y);
    RmsNorm(x, weight, eps, out);
  }

  void WriteKv(const Tensor& src, const Tensor& cache, std::span<const int64_t> row_begin) override {
    const int64_t n = src.dim(0), heads = src.dim(1), hd = src.dim(2), cap = cache.dim(1);
    CHECK_EQ(cache.dim(0), heads);
    for (int64_t h = 0; h < heads; ++h) {
      CHECK(row_begin[h] >= 0 && row_begin[h] + n <= cap) << "KV cache overflow";
      for (int64_t i = 0; i < n; ++i) {
        std::memcpy(cache.data<float>() + (h * cap + row_begin[h] + i) * hd,
                    src.data<float>() + (i * heads + h) * hd, hd * sizeof(float));
      }
    }
  }

  void CopyKvRows(const Tensor& src, const Tensor& dst, int64_t rows) override {
    const int64_t heads = src.dim(0), hd = src.dim(2);
    for (int64_t h = 0; h < heads; ++h) {
      std::memcpy(dst.data<float>() + h * dst.dim(1) * hd, src.data<float>() + h * src.dim(1) * hd,
                  rows * hd * sizeof(float));
    }
  }

  void Attention(const AttentionArgs& args) override { cpu::Attention(args); }

 private:
  const DType weights_;
};

}  // namespace

std::unique_ptr<Backend> NewCpuBackend(DType weights) {
  CHECK(weights == DType::kF32 || weights == DType::kBF16 || weights == DType::kF16);
  return std::make_unique<CpuBackend>(weights);
}

}  // namespace kvlab
