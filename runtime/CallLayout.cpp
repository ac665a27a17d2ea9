//===- CallLayout.cpp - the shapes and memory plan of one call ------------===//
//
// Binds a call's symbols (batch, seq, past), evaluates every value's
// symbolic shape, checks it, and plans the arena: the runtime half of the
// shapes the lowering derived.
//
//===----------------------------------------------------------------------===//
#include "runtime/CheckedMath.h"
#include "runtime/Program.h"

#include <map>
#include <numeric>
#include <vector>

using namespace rose;

/// Evaluates (constant + sum coeff x symbol) / divisor into `out`; else
/// says why not (an unbound symbol is -1 in `symbols`).
static const char *evalDimAt(const fb::Dim &dim,
                             const std::vector<int64_t> &symbols,
                             int64_t &out) {
  int64_t sum = dim.constant();
  if (dim.terms())
    for (const fb::Term *t : *dim.terms()) {
      int64_t product;
      if (symbols[t->symbol()] < 0)
        return "uses a symbol this call does not bind";
      if (__builtin_mul_overflow(t->coeff(), symbols[t->symbol()], &product) ||
          __builtin_add_overflow(sum, product, &sum))
        return "overflows";
    }
  if (sum < 0)
    return "is negative";
  if (sum % dim.divisor() != 0)
    return "is not a whole number";
  out = sum / dim.divisor();
  if (out > kMaxDim)
    return "is too large";
  return nullptr;
}

static std::string dimString(const fb::Dim &dim, const fb::Program &program) {
  std::string s;
  if (dim.terms())
    for (const fb::Term *t : *dim.terms()) {
      if (!s.empty())
        s += " + ";
      if (t->coeff() != 1)
        s += std::to_string(t->coeff()) + "*";
      s += program.symbols()->Get(t->symbol())->str();
    }
  if (dim.constant() || s.empty())
    s += (s.empty() ? "" : " + ") + std::to_string(dim.constant());
  if (dim.divisor() != 1)
    s = (s.find(' ') == std::string::npos ? s : "(" + s + ")") + " / " +
        std::to_string(dim.divisor());
  return s;
}

StatusOr<int64_t> rose::evalDim(const fb::Program &program, const fb::Dim &dim,
                                const std::vector<int64_t> &symbols,
                                const std::string &what) {
  int64_t size = 0;
  if (const char *why = evalDimAt(dim, symbols, size)) {
    std::string binding;
    for (size_t i = 0; i < symbols.size(); ++i)
      if (symbols[i] >= 0)
        binding += (binding.empty() ? "" : ", ") +
                   program.symbols()->Get(i)->str() + "=" +
                   std::to_string(symbols[i]);
    return Status::error(what, ": its dim ", dimString(dim, program), " ", why,
                         " at ", binding);
  }
  return size;
}

/// Every value's shape at `symbols`.
static StatusOr<std::vector<Shape>>
evalShapes(const Entry &entry, const std::vector<int64_t> &symbols) {
  std::vector<Shape> shapes;
  shapes.reserve(entry.fn->values()->size());
  for (const fb::Value *v : *entry.fn->values()) {
    Shape shape;
    for (const fb::Dim *d : *v->shape()) {
      auto size = evalDim(*entry.program, *d, symbols,
                          "value '" + v->name()->str() + "'");
      if (!size)
        return size.status();
      shape.push_back(*size);
    }
    shapes.push_back(std::move(shape));
  }
  return shapes;
}

//===----------------------------------------------------------------------===//
// Memory plan
//===----------------------------------------------------------------------===//

StatusOr<CallLayout> rose::planArena(const Entry &entry,
                                     std::vector<Shape> shapes) {
  const fb::Function &fn = *entry.fn;
  size_t numValues = fn.values()->size();
  CallLayout layout;
  std::vector<int64_t> bytes(numValues), lastUse(numValues, -1);
  std::optional<int64_t> naive = 0;
  auto rounded = [](int64_t b) { return (b + 63) / 64 * 64; };
  auto persistent = [&](size_t v) { return entry.value(v)->buffer() >= 0; };
  for (size_t v = 0; v < numValues; ++v) {
    std::optional<int64_t> b = checkedProduct(
        shapes[v], static_cast<int64_t>(elementSize(entry.value(v)->type())));
    if (!b || *b > (int64_t(1) << 50))
      return Status::error("value '", entry.value(v)->name()->str(),
                           "' is too large to allocate");
    bytes[v] = persistent(v) ? 0 : *b;
    naive = checkedAdd(*naive, rounded(bytes[v]));
    if (!naive)
      return Status::error("the memory plan overflows");
  }
  // Inputs and outputs live throughout; a value dies after its last use
  // (or right after the op that made it, if nothing reads it).
  int64_t numOps = fn.ops()->size();
  for (int64_t i = 0; i < numOps; ++i)
    for (const fb::Operand *o : *fn.ops()->Get(i)->operands())
      if (o->value() >= 0)
        lastUse[o->value()] = i;
  std::vector<bool> pinned(numValues, false);
  for (int32_t v : *fn.inputs())
    pinned[v] = true;
  for (int32_t v : *fn.outputs())
    pinned[v] = true;

  std::map<int64_t, int64_t> freeList; // offset -> size
  int64_t end = 0;
  auto allocate = [&](int64_t size) {
    for (auto it = freeList.begin(); it != freeList.end(); ++it) {
      if (it->second < size)
        continue;
      int64_t offset = it->first, rest = it->second - size;
      freeList.erase(it);
      if (rest)
        freeList[offset + size] = rest;
      return offset;
    }
    int64_t offset = end;
    end += size;
    return offset;
  };
  auto release = [&](int64_t offset, int64_t size) {
    auto [it, inserted] = freeList.emplace(offset, size);
    (void)inserted;
    auto next = std::next(it);
    if (next != freeList.end() && it->first + it->second == next->first) {
      it->second += next->second;
      freeList.erase(next);
    }
    if (it != freeList.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) {
        prev->second += it->second;
        freeList.erase(it);
      }
    }
  };
  layout.offsets.assign(numValues, -1);
  for (int32_t v : *fn.inputs())
    layout.offsets[v] = allocate(rounded(bytes[v]));
  for (int64_t i = 0; i < numOps; ++i) {
    const fb::Op *op = fn.ops()->Get(i);
    for (int32_t r : *op->results())
      if (!persistent(r))
        layout.offsets[r] = allocate(rounded(bytes[r]));
    // Free what this op read for the last time, and unused results.
    std::vector<int32_t> dying;
    for (const fb::Operand *o : *op->operands())
      if (o->value() >= 0 && lastUse[o->value()] == i)
        dying.push_back(o->value());
    for (int32_t r : *op->results())
      if (lastUse[r] < 0)
        dying.push_back(r);
    std::sort(dying.begin(), dying.end());
    dying.erase(std::unique(dying.begin(), dying.end()), dying.end());
    for (int32_t v : dying)
      if (!pinned[v] && !persistent(v))
        release(layout.offsets[v], rounded(bytes[v]));
  }
  layout.arenaBytes = end;
  layout.naiveBytes = *naive;
  layout.shapes = std::move(shapes);
  return layout;
}

StatusOr<CallLayout> rose::layoutCall(const Entry &entry, int64_t batch,
                                      int64_t seq, const SymbolValues &extra) {
  // Symbols "batch" and "seq" are the token ids' dims; the validator made
  // sure the entry's input is [batch, seq] over exactly those. The caller
  // binds the others; a dim over an unbound one (-1) is an error.
  std::vector<int64_t> symbols(entry.program->symbols()->size(), -1);
  size_t found = 0;
  for (size_t i = 0; i < symbols.size(); ++i) {
    std::string name = entry.program->symbols()->Get(i)->str();
    auto it = extra.find(name);
    if (it != extra.end()) {
      if (name == "batch" || name == "seq")
        return Status::error("symbol '", name,
                             "' is bound by the token ids' shape");
      if (it->second < 0 || it->second > kMaxDim)
        return Status::error("symbol '", name, "' = ", it->second,
                             " is out of range");
      symbols[i] = it->second;
      ++found;
    }
    if (name == "batch")
      symbols[i] = batch;
    else if (name == "seq")
      symbols[i] = seq;
  }
  if (found != extra.size())
    for (const auto &[name, value] : extra) {
      bool known = false;
      for (const flatbuffers::String *s : *entry.program->symbols())
        known = known || s->str() == name;
      if (!known)
        return Status::error("the program has no symbol '", name, "'");
    }
  auto shapes = evalShapes(entry, symbols);
  if (!shapes)
    return shapes.status();
  ROSE_RETURN_IF_ERROR(checkOps(entry, *shapes));
  auto layout = planArena(entry, shapes.take());
  if (!layout)
    return layout.status();
  layout->symbols = std::move(symbols);
  return layout;
}

//===----------------------------------------------------------------------===//
// Validation
//===----------------------------------------------------------------------===//
