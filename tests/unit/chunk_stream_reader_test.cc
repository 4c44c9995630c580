// The zero-parse entry stream reader: serialized KvChunks, split across gRPC
// slices at awkward places, reassemble into exactly the sent entry; malformed
// and out-of-order chunks are refused.
#include "services/common/chunk_stream_reader.h"

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "grpcpp/support/slice.h"

namespace kvlab {
namespace {

KvEntry RandomEntry(int layers, int layer_bytes, uint32_t seed) {
  std::mt19937 rng(seed);
  KvEntry e;
  e.header.set_format_version(kKvEntryFormatVersion);
  e.header.set_model_fingerprint(std::string(32, 'a'));
  e.header.set_method_spec("prefill=dense;kv=full;decode=none;prompt=none");
  e.header.set_codec("f32");
  e.header.set_num_layers(layers);
  for (int l = 0; l < layers; ++l) {
    std::string bytes(l == 1 ? 0 : layer_bytes + l, '\0');  // layer 1 is empty
    for (char& c : bytes) c = static_cast<char>(rng());
    e.layers.push_back(std::move(bytes));
  }
  SealEntry(e);
  return e;
}

// `bytes` as a ByteBuffer of slices of at most `piece` bytes.
grpc::ByteBuffer Buffer(const std::string& bytes, size_t piece) {
  std::vector<grpc::Slice> slices;
  for (size_t at = 0; at < bytes.size(); at += piece) {
    slices.emplace_back(bytes.data() + at, std::min(piece, bytes.size() - at));
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

std::vector<std::string> SerializedChunks(const KvEntry& entry, int64_t max_chunk_bytes) {
  std::vector<std::string> out;
  ForEachChunk(
      entry,
      [&](const v1::KvChunk& c) {
        out.push_back(c.SerializeAsString());
        return true;
      },
      max_chunk_bytes);
  return out;
}

// The by-reference messages the kvstore's Get sends (prefix bytes + layer
// bytes) are the messages ForEachChunk emits, chunk for chunk, including the
// empty layer and chunk sizes that need multi-byte varints.
TEST(ChunkStreamReaderTest, LayerChunkPrefixPlusDataIsTheChunkMessage) {
  const KvEntry entry = RandomEntry(3, 300000, 11);
  for (int64_t max_chunk : {int64_t{100}, int64_t{3000}, int64_t{1} << 20}) {
    const std::vector<std::string> expected = SerializedChunks(entry, max_chunk);
    const std::vector<LayerPiece> pieces = LayerPieces(entry, max_chunk);
    ASSERT_EQ(pieces.size() + 1, expected.size());
    for (size_t i = 0; i < pieces.size(); ++i) {
      const LayerPiece& p = pieces[i];
      const std::string bytes =
          LayerChunkPrefix(p) + entry.layers[p.layer].substr(static_cast<size_t>(p.offset), static_cast<size_t>(p.size));
      v1::KvChunk got, want;
      ASSERT_TRUE(got.ParseFromString(bytes)) << "chunk " << i;
      ASSERT_TRUE(want.ParseFromString(expected[i + 1]));
      EXPECT_EQ(got.SerializeAsString(), want.SerializeAsString()) << "chunk " << i << " max " << max_chunk;
      EXPECT_EQ(got.layer().data().size(), static_cast<size_t>(p.size));
    }
  }
}

TEST(ChunkStreamReaderTest, ReassemblesTheEntryFromAnySlicing) {
  const KvEntry entry = RandomEntry(4, 10000, 7);
  for (size_t piece : {1u, 7u, 4096u, 1u << 20}) {
    EntryAssembler assembler;
    for (const std::string& bytes : SerializedChunks(entry, 3000)) {
      grpc::ByteBuffer buffer = Buffer(bytes, piece);
      ASSERT_TRUE(AddSerializedChunk(&buffer, &assembler).ok()) << "piece " << piece;
    }
    absl::StatusOr<KvEntry> got = assembler.Finish();
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->header.SerializeAsString(), entry.header.SerializeAsString());
    EXPECT_EQ(got->layers, entry.layers);
  }
}

TEST(ChunkStreamReaderTest, CorruptDataIsDataLossAndDisorderIsRefused) {
  const KvEntry entry = RandomEntry(3, 5000, 9);
  std::vector<std::string> chunks = SerializedChunks(entry, 2000);
  ASSERT_GT(chunks.size(), 4u);

  // A layer is checked when the next one starts (or at Finish for the last):
  // the corruption surfaces as DATA_LOSS from the first call that sees it.
  for (size_t chunk : {size_t{2}, chunks.size() - 1}) {
    std::vector<std::string> corrupt = chunks;
    corrupt[chunk].back() ^= 1;  // the last byte of a layer chunk is data
    EntryAssembler bad;
    absl::Status status;
    for (const std::string& bytes : corrupt) {
      grpc::ByteBuffer buffer = Buffer(bytes, 512);
      status = AddSerializedChunk(&buffer, &bad);
      if (!status.ok()) break;
    }
    if (status.ok()) status = bad.Finish().status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << "corrupt chunk " << chunk << ": " << status;
  }

  EntryAssembler skipped;
  grpc::ByteBuffer header = Buffer(chunks[0], 64), later = Buffer(chunks[2], 64);
  ASSERT_TRUE(AddSerializedChunk(&header, &skipped).ok());
  EXPECT_EQ(AddSerializedChunk(&later, &skipped).code(), absl::StatusCode::kInvalidArgument);

  EntryAssembler truncated;
  ASSERT_TRUE(AddSerializedChunk(&header, &truncated).ok());
  grpc::ByteBuffer cut = Buffer(chunks[1].substr(0, chunks[1].size() - 10), 64);
  EXPECT_EQ(AddSerializedChunk(&cut, &truncated).code(), absl::StatusCode::kInvalidArgument);

  // Two concatenated messages parse as their merge, so this chunk has an
  // offset field after its data, which would relocate bytes already placed.
  v1::KvChunk offset_only;
  offset_only.mutable_layer()->set_offset(5);
  EntryAssembler disorder;
  ASSERT_TRUE(AddSerializedChunk(&header, &disorder).ok());
  grpc::ByteBuffer merged = Buffer(chunks[1] + offset_only.SerializeAsString(), 64);
  EXPECT_EQ(AddSerializedChunk(&merged, &disorder).code(), absl::StatusCode::kInvalidArgument);
}

// A header that declares absurd layer sizes is refused, and one that
// declares large ones does not make the receiver allocate them up front
// (a 2^61-byte layer used to end the Put with UNKNOWN from a length_error).
TEST(EntryAssemblerTest, DeclaredSizesAreBoundedAndNotPreallocated) {
  v1::KvChunk huge;
  huge.mutable_header()->set_num_layers(1);
  huge.mutable_header()->add_layer_bytes(int64_t{1} << 61);
  huge.mutable_header()->add_layer_checksums(0);
  EntryAssembler a;
  const absl::Status s = a.Add(huge);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("bytes of layers"), std::string::npos) << s;

  v1::KvChunk big = huge;
  big.mutable_header()->set_layer_bytes(0, int64_t{32} << 30);  // 32 GiB promised
  EntryAssembler b;
  ASSERT_TRUE(b.Add(big).ok());
  auto dst = b.AcceptLayerBytes(0, 0, 10);
  ASSERT_TRUE(dst.ok()) << dst.status();
  EXPECT_LE((*dst)->capacity(), size_t{256} << 20);
  (*dst)->append(10, 'x');
  EXPECT_EQ(b.Finish().status().code(), absl::StatusCode::kInvalidArgument);  // ended early
}

}  // namespace
}  // namespace kvlab
