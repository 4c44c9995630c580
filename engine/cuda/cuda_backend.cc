// The CUDA backend (see cuda_backend.h). Ops validate shapes on the host
// (CHECK, as the CPU backend does), enqueue on the backend's stream and record
// the first launch or runtime error; Synchronize/Download report it.
#include "engine/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/check.h"
#include "engine/attention_geometry.h"
#include "engine/cuda/attention.h"
#include "engine/cuda/cuda_status.h"
#include "engine/cuda/device_allocator.h"
#include "engine/cuda/kernels.h"
#include "engine/rope_table.h"

namespace kvlab {
namespace cuda {
namespace {

// Device memory from the backend's allocator; returned to it on destruction.
class CudaStorage : public Storage {
 public:
  CudaStorage(std::shared_ptr<DeviceAllocator> alloc, void* p, size_t rounded, size_t bytes)
      : alloc_(std::move(alloc)), p_(p), rounded_(rounded), bytes_(bytes) {}
  ~CudaStorage() override { alloc_->Free(p_, rounded_); }
  Device device() const override { return Device::kCuda; }
  void* address() const override { return p_; }
  size_t bytes() const override { return bytes_; }

 private:
  std::shared_ptr<DeviceAllocator> alloc_;
  void* p_;
  size_t rounded_;
  size_t bytes_;
};

cudaDataType CudaType(DType t) {
  switch (t) {
    case DType::kF32:
      return CUDA_R_32F;
    case DType::kF16:
      return CUDA_R_16F;
    case DType::kBF16:
      return CUDA_R_16BF;
  }
  return CUDA_R_32F;
}

void CheckOn(const Tensor& t, const char* what) {
  CHECK(t.defined()) << what << " is undefined";
  CHECK(t.device() == Device::kCuda) << what << " is not on the GPU";
}

void CheckF32(const Tensor& t, const char* what) {
  CheckOn(t, what);
  CHECK(t.dtype() == DType::kF32) << what << " is not f32";
}

// Host data packed into one upload: each Add returns its byte offset.
class HostPack {
 public:
  template <typename T>
  size_t Add(const std::vector<T>& v) {
    const size_t off = (bytes_.size() + 15) / 16 * 16;
    bytes_.resize(off + v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(bytes_.data() + off, v.data(), v.size() * sizeof(T));
    return off;
  }
  const std::vector<unsigned char>& bytes() const { return bytes_; }

 private:
  std::vector<unsigned char> bytes_;
};

// The flattened geometry of one attention call.
struct Geometry {
  std::vector<DeviceTile> tiles;
  std::vector<DeviceSegment> segs;
  std::vector<int64_t> row, lo, wlo, keys;
  int32_t max_heads = 1;
  int64_t max_blocks = 0;  // most 32-key blocks of a tile
};

Geometry BuildGeometry(const AttentionArgs& a, const std::vector<VerticalSlashChoice>* vs,
                       std::span<const AttentionTile> tiles) {
  Geometry geo;
  TileGeometry g;
  for (const AttentionTile& t : tiles) {
    BuildTileGeometry(a, vs != nullptr ? &(*vs)[t.head0] : nullptr, t, g);
    if (a.stats != nullptr) a.stats->Add(CountTilePairs(t, g));
    DeviceTile d{};
    d.kv_head = static_cast<int32_t>(t.kv_head);
    d.head0 = static_cast<int32_t>(t.head0);
    d.heads = static_cast<int32_t>(t.heads);
    d.q_begin = static_cast<int32_t>(t.q_begin);
    d.q_end = static_cast<int32_t>(t.q_end);
    d.seg_begin = static_cast<int32_t>(geo.segs.size());
    d.query_offset = static_cast<int32_t>(geo.row.size());
    d.keys_offset = static_cast<int64_t>(geo.keys.size());
    int64_t blocks = 0;
    for (const KeySegment& s : g.segs) {
      geo.segs.push_back({s.begin, s.end, s.row_lo ? 1 : 0, s.gathered ? 1 : 0});
      blocks += (s.end - s.begin + 31) / 32;
    }
    d.seg_end = static_cast<int32_t>(geo.segs.size());
    geo.row.insert(geo.row.end(), g.row.begin(), g.row.end());
    geo.lo.insert(geo.lo.end(), g.lo.begin(), g.lo.end());
    geo.wlo.insert(geo.wlo.end(), g.wlo.begin(), g.wlo.end());
    geo.keys.insert(geo.keys.end(), g.keys.begin(), g.keys.end());
    geo.max_heads = std::max(geo.max_heads, d.heads);
    geo.max_blocks = std::max(geo.max_blocks, blocks);
    geo.tiles.push_back(d);
  }
  return geo;
}

class CudaBackend : public Backend {
 public:
  CudaBackend(const CudaBackendOptions& options, cudaStream_t stream, cublasHandle_t blas, int sm_count,
              int64_t max_head_dim)
      : options_(options),
        alloc_(std::make_shared<DeviceAllocator>(options.device)),
        stream_(stream),
        blas_(blas),
        sm_count_(sm_count),
        max_head_dim_(max_head_dim) {}
  ~CudaBackend() override {
    cudaSetDevice(options_.device);
    cudaStreamSynchronize(stream_);
    cublasDestroy(blas_);
    cudaStreamDestroy(stream_);
  }

  Device device() const override { return Device::kCuda; }
  std::string name() const override { return absl::StrCat("cuda:", options_.device); }
  DType kv_dtype() const override { return options_.kv_dtype; }
  DType MatrixDType(DType stored) const override { return options_.weights_dtype.value_or(stored); }
  int64_t max_head_dim() const override { return max_head_dim_; }

  absl::StatusOr<Tensor> Allocate(DType dtype, std::vector<int64_t> shape) override {
    int64_t n = 1;
    for (int64_t d : shape) {
      if (d < 0) return absl::InvalidArgumentError("negative tensor dimension");
      n *= d;
    }
    const size_t bytes = static_cast<size_t>(n) * DTypeSize(dtype);
    size_t rounded = 0;
    absl::StatusOr<void*> p = alloc_->Allocate(bytes, &rounded);
    if (!p.ok()) return p.status();
    return Tensor(std::make_shared<CudaStorage>(alloc_, *p, rounded, bytes), dtype, std::move(shape));
  }

  absl::Status Upload(const void* host, const Tensor& dst) override {
    CheckOn(dst, "upload destination");
    absl::MutexLock lock(&mu_);
    Enter();
    // From pageable memory the call returns once `host` has been consumed.
    return CudaStatus(cudaMemcpyAsync(dst.data<void>(), host, dst.bytes(), cudaMemcpyHostToDevice, stream_),
                      "upload");
  }

  absl::Status Download(const Tensor& src, void* host) override {
    CheckOn(src, "download source");
    absl::MutexLock lock(&mu_);
    Enter();
    Record(cudaMemcpyAsync(host, src.data<void>(), src.bytes(), cudaMemcpyDeviceToHost, stream_));
    return SyncLocked();
  }

  absl::Status Synchronize() override {
    absl::MutexLock lock(&mu_);
    Enter();
    return SyncLocked();
  }

  void Embed(const Tensor& table, std::span<const int32_t> ids, const Tensor& out) override {
    CheckOn(table, "embedding table");
    CheckF32(out, "embedding output");
    CHECK_EQ(out.dim(0), static_cast<int64_t>(ids.size()));
    for (int32_t id : ids) CHECK(id >= 0 && id < table.dim(0)) << "token id out of range";
    absl::MutexLock lock(&mu_);
    Enter();
    const int32_t* dids = UploadSmall(std::vector<int32_t>(ids.begin(), ids.end()));
    if (dids == nullptr) return;
    Record(LaunchEmbed(stream_, table.dtype(), table.data<void>(), dids, out.dim(0), table.dim(1), out.data<float>()));
  }

  void RmsNorm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) override {
    CheckF32(x, "rmsnorm input");
    CheckF32(weight, "rmsnorm weight");
    absl::MutexLock lock(&mu_);
    Enter();
    Record(LaunchRmsNorm(stream_, x.data<float>(), nullptr, weight.data<float>(), eps, x.num_elements() / x.dim(-1),
                         x.dim(-1), out.data<float>()));
  }

  void AddRmsNorm(const Tensor& x, const Tensor& y, const Tensor& weight, float eps, const Tensor& out) override {
    CheckF32(x, "rmsnorm input");
    CheckF32(y, "residual");
    CHECK_EQ(x.num_elements(), y.num_elements());
    absl::MutexLock lock(&mu_);
    Enter();
    Record(LaunchRmsNorm(stream_, x.data<float>(), y.data<float>(), weight.data<float>(), eps,
                         x.num_elements() / x.dim(-1), x.dim(-1), out.data<float>()));
  }

  void Linear(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out) override;

  void RopeTable(std::span<const int32_t> positions, std::span<const float> inv_freq,
                 const Tensor& table) override {
    CheckF32(table, "rope table");
    std::vector<float> host(positions.size() * inv_freq.size() * 2);
    FillRopeTable(positions, inv_freq, host.data());
    CHECK_EQ(static_cast<int64_t>(host.size()), table.num_elements());
    absl::MutexLock lock(&mu_);
    Enter();
    Record(cudaMemcpyAsync(table.data<void>(), host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice,
                           stream_));
  }

  void ApplyRope(const Tensor& x, const Tensor& table) override {
    CheckF32(x, "rope input");
    absl::MutexLock lock(&mu_);
    Enter();
    Record(LaunchApplyRope(stream_, x.data<float>(), table.data<float>(), x.dim(0), x.dim(1), x.dim(2)));
  }

  void SwiGlu(const Tensor& gate, const Tensor& up, const Tensor& out) override {
    CheckF32(gate, "swiglu gate");
    absl::MutexLock lock(&mu_);
    Enter();
    Record(LaunchSwiGlu(stream_, gate.data<float>(), up.data<float>(), out.data<float>(), gate.num_elements()));
  }

  void AddInPlace(const Tensor& x, const Tensor& y) override {
    CheckF32(x, "add input");
    CHECK_EQ(x.num_elements(), y.num_elements());
    absl::MutexLock lock(&mu_);
    Enter();
    Record(LaunchAdd(stream_, x.data<float>(), y.data<float>(), x.num_elements()));
  }

  void WriteKv(const Tensor& src, const Tensor& cache, std::span<const int64_t> row_begin) override {
    CheckF32(src, "KV rows");
    CheckOn(cache, "KV cache");
    const int64_t n = src.dim(0), heads = src.dim(1), hd = src.dim(2), cap = cache.dim(1);
    CHECK_EQ(cache.dim(0), heads);
    CHECK(cache.dtype() == options_.kv_dtype) << "KV cache is not " << DTypeName(options_.kv_dtype);
    for (int64_t h = 0; h < heads; ++h) {
      CHECK(row_begin[h] >= 0 && row_begin[h] + n <= cap) << "KV cache overflow";
    }
    absl::MutexLock lock(&mu_);
    Enter();
    const int64_t* rows = UploadSmall(std::vector<int64_t>(row_begin.begin(), row_begin.begin() + heads));
    if (rows == nullptr) return;
    Record(LaunchWriteKv(stream_, src.data<float>(), n, heads, hd, cache.dtype(), cache.data<void>(), cap, rows));
  }

  void CopyKvRows(const Tensor& src, const Tensor& dst, int64_t rows) override {
    CheckOn(src, "KV source");
    CheckOn(dst, "KV destination");
    CHECK(src.dtype() == dst.dtype());
    CHECK(src.dim(0) == dst.dim(0) && src.dim(2) == dst.dim(2)) << "CopyKvRows: caches of different shapes";
    CHECK(rows >= 0 && rows <= src.dim(1) && rows <= dst.dim(1)) << "CopyKvRows: " << rows << " rows do not fit";
    const size_t es = DTypeSize(src.dtype()), row = static_cast<size_t>(src.dim(2)) * es;
    absl::MutexLock lock(&mu_);
    Enter();
    if (rows == 0) return;
    Record(cudaMemcpy2DAsync(dst.data<void>(), dst.dim(1) * row, src.data<void>(), src.dim(1) * row, rows * row,
                             src.dim(0), cudaMemcpyDeviceToDevice, stream_));
  }

  void Attention(const AttentionArgs& args) override;

 private:
  // Makes the backend's device current for this thread.
  void Enter() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { Record(cudaSetDevice(options_.device)); }
  // Keeps the first error.
  void Record(cudaError_t e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (e != cudaSuccess && error_.ok()) error_ = CudaStatus(e, "op");
  }
  void Record(const absl::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!s.ok() && error_.ok()) error_ = s;
  }
  absl::Status SyncLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Record(cudaStreamSynchronize(stream_));
    absl::Status s = error_;
    error_ = absl::OkStatus();
    return s;
  }
  // A device buffer of `bytes` that lives until the work enqueued so far has
  // been ordered before any reuse (see DeviceAllocator); null on failure
  // (recorded).
  std::shared_ptr<Storage> Scratch(size_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    size_t rounded = 0;
    absl::StatusOr<void*> p = alloc_->Allocate(bytes, &rounded);
    if (!p.ok()) {
      Record(p.status());
      return nullptr;
    }
    return std::make_shared<CudaStorage>(alloc_, *p, rounded, bytes);
  }
  // Copies a small host vector to a scratch buffer freed after this op.
  template <typename T>
  const T* UploadSmall(const std::vector<T>& v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    op_scratch_ = Scratch(std::max<size_t>(1, v.size() * sizeof(T)));
    if (op_scratch_ == nullptr) return nullptr;
    Record(cudaMemcpyAsync(op_scratch_->address(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice, stream_));
    return static_cast<const T*>(op_scratch_->address());
  }
  std::vector<VerticalSlashChoice> EstimateVerticalSlash(const AttentionArgs& a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Uploads one batch of tiles and launches the attention kernel(s) on it.
  void LaunchTiles(const AttentionArgs& a, const Geometry& geo) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CudaBackendOptions options_;
  const std::shared_ptr<DeviceAllocator> alloc_;
  absl::Mutex mu_;
  cudaStream_t stream_ ABSL_GUARDED_BY(mu_);
  cublasHandle_t blas_ ABSL_GUARDED_BY(mu_);
  const int sm_count_;
  const int64_t max_head_dim_;  // what the attention kernels fit in this device's shared memory
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  // The latest op's uploaded arguments (kept until the next op replaces them).
  std::shared_ptr<Storage> op_scratch_ ABSL_GUARDED_BY(mu_);
};

void CudaBackend::Linear(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out) {
  CheckF32(x, "linear input");
  CheckOn(w, "linear weight");
  CheckF32(out, "linear output");
  const int64_t n = x.num_elements() / x.dim(-1), in = x.dim(-1), outd = w.dim(0);
  CHECK_EQ(w.dim(1), in) << "linear: weight " << w.ShapeString() << " vs input " << x.ShapeString();
  CHECK_EQ(out.dim(-1), outd);
  CHECK_EQ(out.num_elements(), n * outd) << "linear: output " << out.ShapeString() << " for " << n << " rows";
  if (bias.defined()) CheckF32(bias, "linear bias");
  absl::MutexLock lock(&mu_);
  Enter();
  const float one = 1.0f, zero = 0.0f;
  // Column-major view: C^T [outd, rows] = W [outd, in] * B^T [in, rows].
  auto gemm = [&](const void* b, cudaDataType type, int64_t rows, void* c) {
    Record(CublasStatus(cublasGemmEx(blas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(outd), static_cast<int>(rows),
                                     static_cast<int>(in), &one, w.data<void>(), CudaType(w.dtype()),
                                     static_cast<int>(in), b, type, static_cast<int>(in), &zero, c, CUDA_R_32F,
                                     static_cast<int>(outd), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                        "GemmEx"));
  };
  if (w.dtype() == DType::kF32) {
    gemm(x.data<void>(), CUDA_R_32F, n, out.data<void>());
    if (bias.defined()) Record(LaunchAddBias(stream_, out.data<float>(), bias.data<float>(), n, outd));
    return;
  }
  // cuBLAS multiplies equal input types. Rounding x to the weights' 16 bits
  // would lose ~8 bits of every activation (the CPU keeps them): x goes in as
  // hi + lo rows (16 bits each), one GEMM reads W once for both, and the two
  // halves are summed in f32.
  std::shared_ptr<Storage> split = Scratch(static_cast<size_t>(2 * n * in) * DTypeSize(w.dtype()));
  std::shared_ptr<Storage> halves = Scratch(static_cast<size_t>(2 * n * outd) * sizeof(float));
  if (split == nullptr || halves == nullptr) return;
  Record(LaunchSplitF32(stream_, x.data<float>(), n, in, w.dtype(), split->address()));
  gemm(split->address(), CudaType(w.dtype()), 2 * n, halves->address());
  Record(LaunchSumHalves(stream_, static_cast<const float*>(halves->address()),
                         bias.defined() ? bias.data<float>() : nullptr, n, outd, out.data<float>()));
}

std::vector<VerticalSlashChoice> CudaBackend::EstimateVerticalSlash(const AttentionArgs& a) {
  const PrefillPattern& p = *a.pattern;
  const int64_t n = a.q.dim(0), hq = a.q.dim(1), hkv = a.k.dim(0), group = hq / hkv;
  const int64_t lq = std::min(p.last_q, n);
  const int64_t stride = *std::max_element(a.kv_len.begin(), a.kv_len.end());
  std::vector<VerticalSlashChoice> out(hq);
  std::shared_ptr<Storage> sums = Scratch(2 * hq * stride * sizeof(double));
  const int64_t* kv_len = UploadSmall(a.kv_len);
  if (sums == nullptr || kv_len == nullptr) return out;
  double* vertical = static_cast<double*>(sums->address());
  double* slash = vertical + hq * stride;
  Record(cudaMemsetAsync(vertical, 0, 2 * hq * stride * sizeof(double), stream_));
  Record(LaunchVerticalSlashEstimate(stream_, a.q.data<float>(), a.k.data<void>(), a.k.dtype(), n, hq, a.q.dim(2),
                                     hkv, a.k.dim(1), kv_len, lq, a.scale, vertical, slash, stride));
  std::vector<double> host(2 * hq * stride);
  Record(cudaMemcpyAsync(host.data(), vertical, host.size() * sizeof(double), cudaMemcpyDeviceToHost, stream_));
  Record(cudaStreamSynchronize(stream_));
  if (!error_.ok()) return out;
  for (int64_t h = 0; h < hq; ++h) {
    const int64_t len = a.kv_len[h / group];
    std::vector<double> v(host.begin() + h * stride, host.begin() + h * stride + len);
    std::vector<double> s(host.begin() + (hq + h) * stride, host.begin() + (hq + h) * stride + len);
    out[h] = ChooseVerticalSlash(p, v, s);
  }
  return out;
}

void CudaBackend::Attention(const AttentionArgs& a) {
  CheckF32(a.q, "attention queries");
  CheckF32(a.out, "attention output");
  CheckOn(a.k, "attention keys");
  CheckOn(a.v, "attention values");
  const int64_t n = a.q.dim(0), hq = a.q.dim(1), hd = a.q.dim(2), hkv = a.k.dim(0);
  CHECK_EQ(hq % hkv, 0);
  CHECK_EQ(static_cast<int64_t>(a.kv_len.size()), hkv);
  CHECK(hd <= max_head_dim_) << "attention: head_dim " << hd << " above " << max_head_dim_;
  CHECK(a.k.dtype() == a.v.dtype());
  CHECK(a.k.dim(2) == hd && a.v.dim(2) == hd) << "attention: K/V head_dim differs from the queries'";
  for (int64_t h = 0; h < hkv; ++h) {
    CHECK(a.kv_len[h] >= n && a.kv_len[h] <= a.k.dim(1)) << "attention: bad kv length";
  }
  CHECK(a.pattern_rows_after >= 0) << "attention: negative pattern_rows_after";
  if (a.attention_mass.defined()) {
    CheckF32(a.attention_mass, "attention mass");
    CHECK(a.attention_mass.dim(0) == hq) << "attention: mass must be [num_heads, cols]";
  }
  absl::MutexLock lock(&mu_);
  Enter();
  std::vector<VerticalSlashChoice> vs;
  const bool vertical_slash = a.pattern != nullptr && a.pattern->kind == PrefillPattern::kVerticalSlash;
  if (vertical_slash) {
    CHECK_EQ(a.pattern_rows_after, 0) << "attention: vertical_slash needs its whole span in one call";
    vs = EstimateVerticalSlash(a);
    if (!error_.ok()) return;
  }
  // Tiles go to the device in batches, so that the host never holds the
  // gathered keys of a whole long prefill at once (the CPU builds each
  // tile's lists when it runs it).
  const std::vector<AttentionTile> tiles = SparseAttentionTiles(a);
  constexpr size_t kTilesPerLaunch = 4096;
  for (size_t t0 = 0; t0 < tiles.size() && error_.ok(); t0 += kTilesPerLaunch) {
    const size_t count = std::min(kTilesPerLaunch, tiles.size() - t0);
    LaunchTiles(a, BuildGeometry(a, vertical_slash ? &vs : nullptr, std::span(tiles).subspan(t0, count)));
  }
}

void CudaBackend::LaunchTiles(const AttentionArgs& a, const Geometry& geo) {
  const int64_t n = a.q.dim(0), hd = a.q.dim(2);
  AttentionWork w{};
  w.q = a.q.data<float>();
  w.k = a.k.data<void>();
  w.v = a.v.data<void>();
  w.kv_type = a.k.dtype();
  w.out = a.out.data<float>();
  w.n = n;
  w.hq = a.q.dim(1);
  w.hd = hd;
  w.hkv = a.k.dim(0);
  w.cap = a.k.dim(1);
  w.scale = a.scale;
  w.num_tiles = static_cast<int32_t>(geo.tiles.size());
  w.max_tile_rows = static_cast<int32_t>(std::min<int64_t>(n, kAttentionTile) * geo.max_heads);
  if (a.attention_mass.defined()) {
    w.mass = a.attention_mass.data<float>();
    w.mass_cols = a.attention_mass.dim(1);
  }
  // Too few tiles to fill the device (decode): split each tile's keys.
  w.splits = 1;
  if (w.mass == nullptr && w.num_tiles < sm_count_) {
    const int64_t want = (2 * sm_count_ + w.num_tiles - 1) / w.num_tiles;
    w.splits = static_cast<int32_t>(std::clamp<int64_t>(std::min<int64_t>(want, geo.max_blocks / 4), 1, 256));
  }
  HostPack pack;
  const size_t o_tiles = pack.Add(geo.tiles), o_segs = pack.Add(geo.segs), o_row = pack.Add(geo.row),
               o_lo = pack.Add(geo.lo), o_wlo = pack.Add(geo.wlo), o_keys = pack.Add(geo.keys);
  const int64_t partial_floats =
      w.splits > 1 ? AttentionPartialFloats(w.num_tiles, w.max_tile_rows, w.splits, hd) : 0;
  std::shared_ptr<Storage> buf = Scratch(pack.bytes().size() + partial_floats * sizeof(float) + 16);
  if (buf == nullptr) return;
  unsigned char* base = static_cast<unsigned char*>(buf->address());
  Record(cudaMemcpyAsync(base, pack.bytes().data(), pack.bytes().size(), cudaMemcpyHostToDevice, stream_));
  w.tiles = reinterpret_cast<const DeviceTile*>(base + o_tiles);
  w.segs = reinterpret_cast<const DeviceSegment*>(base + o_segs);
  w.row = reinterpret_cast<const int64_t*>(base + o_row);
  w.lo = reinterpret_cast<const int64_t*>(base + o_lo);
  w.wlo = reinterpret_cast<const int64_t*>(base + o_wlo);
  w.keys = reinterpret_cast<const int64_t*>(base + o_keys);
  w.partial = reinterpret_cast<float*>(base + (pack.bytes().size() + 15) / 16 * 16);
  Record(LaunchAttention(stream_, w));
  op_scratch_ = std::move(buf);
}

}  // namespace
}  // namespace cuda

int CudaDeviceCount() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();  // clear the error of a missing driver
      return 0;
    }
    return n;
  }();
  return count;
}

absl::StatusOr<std::unique_ptr<Backend>> NewCudaBackend(const CudaBackendOptions& options) {
  const int count = CudaDeviceCount();
  if (options.device < 0 || options.device >= count) {
    return absl::UnavailableError(absl::StrCat("CUDA device ", options.device, " is not available (", count,
                                               " visible)"));
  }
  absl::Status s = cuda::CudaStatus(cudaSetDevice(options.device), "cudaSetDevice");
  if (!s.ok()) return s;
  cudaDeviceProp prop;
  s = cuda::CudaStatus(cudaGetDeviceProperties(&prop, options.device), "cudaGetDeviceProperties");
  if (!s.ok()) return s;
  cudaStream_t stream = nullptr;
  s = cuda::CudaStatus(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  if (!s.ok()) return s;
  cublasHandle_t blas = nullptr;
  s = cuda::CublasStatus(cublasCreate(&blas), "cublasCreate");
  if (s.ok()) s = cuda::CublasStatus(cublasSetStream(blas, stream), "cublasSetStream");
  if (!s.ok()) {
    if (blas != nullptr) cublasDestroy(blas);
    cudaStreamDestroy(stream);
    return s;
  }
  return std::unique_ptr<Backend>(new cuda::CudaBackend(
      options, stream, blas, prop.multiProcessorCount,
      std::min<int64_t>(cuda::kMaxAttentionHeadDim, cuda::AttentionHeadDimLimit(prop.sharedMemPerBlockOptin))));
}

}  // namespace kvlab
