//===- TestPrograms.h - small programs built for runtime tests --*- C++ -*-===//
//
// A program with two entries sharing a param and a persistent buffer,
// written with the FlatBuffers builder: "write" stores the embeddings of
// its tokens into rows [past, past + seq) of a cache; "read" returns the
// cache flattened. Variants break one validator rule each. A Rig runs both
// entries as rank 0 of a one-rank group on any backend.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_TEST_UNIT_TESTPROGRAMS_H
#define ROSE_TEST_UNIT_TESTPROGRAMS_H

#include "runtime/Executor.h"

#include <cstring>

namespace rose::test {

constexpr int64_t kRows = 10, kWidth = 4, kCacheRows = 8;
enum Symbol { Batch = 0, Seq = 1, Past = 2 };

/// Builds the test program; `mutate` may break one rule for the
/// validator tests.
struct Builder {
  flatbuffers::FlatBufferBuilder fbb;
  uint32_t version = kProgramVersion;
  bool otherOpWritesBuffer = false, readOverwritten = false,
       wrongBufferShape = false;

  flatbuffers::Offset<fb::Dim> sym(Symbol s) {
    std::vector<fb::Term> terms = {fb::Term(s, 1)};
    return fb::CreateDimDirect(fbb, 0, &terms, 1);
  }
  flatbuffers::Offset<fb::Dim> constant(int64_t c) {
    return fb::CreateDimDirect(fbb, c, nullptr, 1);
  }
  flatbuffers::Offset<fb::Value>
  value(const char *name, fb::ElementType type,
        std::vector<flatbuffers::Offset<fb::Dim>> shape, int32_t buffer = -1) {
    return fb::CreateValueDirect(fbb, name, type, &shape, buffer);
  }
  /// The values' view of the cache; the buffer itself is always
  /// [batch, kCacheRows, kWidth].
  std::vector<flatbuffers::Offset<fb::Dim>> cacheShape(bool buffer = false) {
    return {sym(Batch), constant(wrongBufferShape && !buffer ? 7 : kCacheRows),
            constant(kWidth)};
  }
  flatbuffers::Offset<fb::Op> op(fb::OpAttrs kind,
                                 flatbuffers::Offset<void> attrs,
                                 std::vector<fb::Operand> operands,
                                 std::vector<int32_t> results) {
    return fb::CreateOpDirect(fbb, kind, attrs, "", &operands, &results);
  }

  /// "write": emb = table[ids]; cache[:, past:past+seq] = emb; out = emb.
  flatbuffers::Offset<fb::Function> write() {
    std::vector<flatbuffers::Offset<fb::Value>> values = {
        value("ids", fb::ElementType::I64, {sym(Batch), sym(Seq)}),
        value("emb", fb::ElementType::F32,
              {sym(Batch), sym(Seq), constant(kWidth)}),
        value("cache.in", fb::ElementType::F32, cacheShape(), 0),
        value("cache.out", fb::ElementType::F32, cacheShape(), 0)};
    std::vector<fb::Term> past = {fb::Term(Past, 1)};
    auto offset = fb::CreateDimDirect(fbb, 0, &past, 1);
    std::vector<flatbuffers::Offset<fb::Op>> ops = {
        op(fb::OpAttrs::Embedding, fb::CreateEmbedding(fbb, 0, 0).Union(),
           {fb::Operand(-1, 0), fb::Operand(0, -1)}, {1}),
        op(fb::OpAttrs::CacheWrite,
           fb::CreateCacheWrite(fbb, 1, offset).Union(),
           {fb::Operand(2, -1), fb::Operand(1, -1)}, {3})};
    std::vector<int32_t> inputs = {0}, outputs = {1};
    return fb::CreateFunctionDirect(fbb, "write", &values, &ops, &inputs,
                                    &outputs);
  }

  /// "read": out[b, s, :] = zeros[ids[b, s]] + the cache of sequence b
  /// flattened to kCacheRows x kWidth columns.
  flatbuffers::Offset<fb::Function> read() {
    constexpr int64_t kFlat = kCacheRows * kWidth;
    std::vector<fb::Term> seqRows = {fb::Term(Seq, kCacheRows)};
    std::vector<flatbuffers::Offset<fb::Value>> values = {
        value("ids", fb::ElementType::I64, {sym(Batch), sym(Seq)}),
        value("emb", fb::ElementType::F32,
              {sym(Batch), sym(Seq), constant(kFlat)}),
        value("cache", fb::ElementType::F32, cacheShape(), 0),
        value("flat", fb::ElementType::F32,
              {sym(Batch), constant(1), constant(kFlat)}),
        value("out", fb::ElementType::F32,
              {sym(Batch), sym(Seq), constant(kFlat)})};
    // Values 5... for the broken variants.
    if (readOverwritten) {
      values.push_back(
          value("rows", fb::ElementType::F32,
                {sym(Batch), fb::CreateDimDirect(fbb, 0, &seqRows, 1),
                 constant(kWidth)}));
      values.push_back(value("cache.2", fb::ElementType::F32, cacheShape(), 0));
      values.push_back(value("again", fb::ElementType::F32,
                             {sym(Batch), constant(1), constant(kFlat)}));
    }
    if (otherOpWritesBuffer)
      values.push_back(value("copy", fb::ElementType::F32, cacheShape(), 0));
    std::vector<flatbuffers::Offset<fb::Op>> ops = {
        op(fb::OpAttrs::Embedding, fb::CreateEmbedding(fbb, 0, 0).Union(),
           {fb::Operand(-1, 1), fb::Operand(0, -1)}, {1}),
        op(fb::OpAttrs::Reshape, fb::CreateReshape(fbb).Union(),
           {fb::Operand(2, -1)}, {3}),
        op(fb::OpAttrs::Add, fb::CreateAdd(fbb).Union(),
           {fb::Operand(1, -1), fb::Operand(3, -1)}, {4})};
    if (readOverwritten) {
      // Writes the cache, then reads the version it overwrote.
      ops.push_back(op(fb::OpAttrs::Reshape, fb::CreateReshape(fbb).Union(),
                       {fb::Operand(1, -1)}, {5}));
      ops.push_back(op(fb::OpAttrs::CacheWrite,
                       fb::CreateCacheWrite(fbb, 1, constant(0)).Union(),
                       {fb::Operand(2, -1), fb::Operand(5, -1)}, {6}));
      ops.push_back(op(fb::OpAttrs::Reshape, fb::CreateReshape(fbb).Union(),
                       {fb::Operand(2, -1)}, {7}));
    }
    if (otherOpWritesBuffer)
      ops.push_back(op(fb::OpAttrs::Reshape, fb::CreateReshape(fbb).Union(),
                       {fb::Operand(2, -1)}, {5}));
    std::vector<int32_t> inputs = {0}, outputs = {4};
    return fb::CreateFunctionDirect(fbb, "read", &values, &ops, &inputs,
                                    &outputs);
  }

  std::vector<uint8_t> finish() {
    std::vector<flatbuffers::Offset<flatbuffers::String>> symbols = {
        fbb.CreateString("batch"), fbb.CreateString("seq"),
        fbb.CreateString("past")};
    std::vector<flatbuffers::Offset<fb::MeshAxis>> mesh = {
        fb::CreateMeshAxisDirect(fbb, "tp", 1)};
    std::vector<int64_t> shape = {kRows, kWidth},
                         wide = {kRows, kCacheRows * kWidth};
    std::vector<flatbuffers::Offset<fb::Param>> params = {
        fb::CreateParamDirect(fbb, "table", fb::ElementType::F32, &shape,
                              &shape),
        fb::CreateParamDirect(fbb, "zeros", fb::ElementType::F32, &wide,
                              &wide)};
    std::vector<flatbuffers::Offset<fb::Function>> functions = {write(),
                                                                read()};
    std::vector<flatbuffers::Offset<fb::Dim>> dims = cacheShape(true);
    std::vector<flatbuffers::Offset<fb::Buffer>> buffers = {
        fb::CreateBufferDirect(fbb, "cache", fb::ElementType::F32, &dims)};
    fb::FinishProgramBuffer(
        fbb, fb::CreateProgramDirect(fbb, version, "", kRows, &symbols, &mesh,
                                     &params, &functions, &buffers));
    return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
  }
};

/// Rank 0 of a one-rank run: the program, its weights, both executors.
struct Rig {
  std::vector<uint64_t> storage; // 8-byte aligned copy of the program
  const fb::Program *root = nullptr;
  std::vector<float> table;
  std::unique_ptr<RankWeights> weights, readWeights;
  Backend &backend;
  LocalGroup group{1};
  std::unique_ptr<Communicator> comm = group.communicator(0);
  BufferSet buffers{backend};
  std::unique_ptr<Executor> writer, reader;

  Rig(const std::vector<uint8_t> &bytes, Backend &backend) : backend(backend) {
    storage.resize((bytes.size() + 7) / 8);
    std::memcpy(storage.data(), bytes.data(), bytes.size());
    root = fb::GetProgram(storage.data());
    Entry write{root, root->functions()->Get(0)};
    Entry read{root, root->functions()->Get(1)};
    weights = std::make_unique<RankWeights>(RankWeights::zeros(write));
    readWeights = std::make_unique<RankWeights>(RankWeights::zeros(read));
    table.resize(kRows * kWidth);
    for (int64_t i = 0; i < kRows; ++i)
      for (int64_t j = 0; j < kWidth; ++j)
        table[i * kWidth + j] = static_cast<float>(10 * i + j);
    // The zero weights own their data: fill the table in place ("zeros"
    // stays zero).
    std::memcpy(const_cast<float *>(weights->param(0)), table.data(),
                table.size() * sizeof(float));
    writer = Executor::create(write, *weights, backend, *comm, &buffers).take();
    reader =
        Executor::create(read, *readWeights, backend, *comm, &buffers).take();
  }
};

/// Element [row, j] of the cache after "write" ran on tokens {1, 2} at
/// past 0 and {3} at past 2: rows 0..2 hold table[1..3] (table[i][j] =
/// 10 i + j), the rest are still zero.
inline float expectedCache(int64_t row, int64_t j) {
  return row < 3 ? static_cast<float>(10 * (row + 1) + j) : 0.0f;
}

/// The reader's output for one token (the cache, flattened), or empty.
inline std::vector<float> runRead(Rig &rig) {
  int64_t token = 5;
  if (!rig.reader->run(&token, 1, 1).ok())
    return {};
  auto out = rig.reader->read(rig.root->functions()->Get(1)->outputs()->Get(0));
  return out ? out.take() : std::vector<float>{};
}

} // namespace rose::test

#endif // ROSE_TEST_UNIT_TESTPROGRAMS_H
