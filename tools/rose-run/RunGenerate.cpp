//===- RunGenerate.cpp - rose-run --generate ------------------------------===//
//
// Prompts come as ids (--tokens, --prompt-ids) or text (--prompt, through the
// tokenizer rose-compile recorded, or --tokenizer). Tokens stream as they
// are chosen (one sequence: its text; several: each one's text, or its
// generated ids without a tokenizer, at the end), then
// the timings. Errors are one line and leave no output file.
//
//===----------------------------------------------------------------------===//
#include "RunGenerate.h"
#include "runtime/Npy.h"
#ifdef ROSE_HAVE_TOKENIZER
#include "runtime/tokenizer/Tokenizer.h"
#endif

#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

using namespace rose;

namespace {

int fail(const std::string &message) {
  std::cerr << "rose-run: error: " << message << "\n";
  return 1;
}

/// Text decoded so far and printed as it grows (holding back an
/// incomplete UTF-8 character at the end).
class TextStream {
public:
  void show(const std::string &text) {
    if (text.compare(0, printed.size(), printed) != 0)
      return; // the decoder rewrote earlier text: wait for the end
    size_t end = text.size();
    // Back up over a trailing incomplete UTF-8 sequence.
    size_t lead = end;
    while (lead > printed.size() && lead > end - 4 &&
           (static_cast<unsigned char>(text[lead - 1]) & 0xC0) == 0x80)
      --lead;
    if (lead > printed.size() && lead > 0) {
      unsigned char c = text[lead - 1];
      size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      if (end - (lead - 1) < need)
        end = lead - 1;
    }
    std::cout << text.substr(printed.size(), end - printed.size())
              << std::flush;
    printed = text.substr(0, end);
  }
  const std::string &text() const { return printed; }

private:
  std::string printed;
};

} // namespace

int rose::runGenerate(
    const GenerateFlags &flags,
    std::function<StatusOr<std::unique_ptr<Communicator>>()> processComm,
    bool reports, const Generator &generate) {
  auto program = Program::load(flags.programPath);
  if (!program)
    return fail(program.status().message());
  GenerateRequest req;
  req.maxNewTokens = flags.tokens;
  req.sampling = flags.sampling;
  req.ignoreEos = flags.ignoreEos;
  req.threads = flags.threads;
  req.timeoutSeconds = flags.timeout;
  req.processComm = std::move(processComm);

#ifdef ROSE_HAVE_TOKENIZER
  std::unique_ptr<Tokenizer> tokenizer;
  std::string tokenizerDir = flags.tokenizerDir;
  if (tokenizerDir.empty() && (*program)->root().tokenizer())
    tokenizerDir = (*program)->root().tokenizer()->str();
  if (!tokenizerDir.empty()) {
    auto loaded = Tokenizer::load(tokenizerDir);
    // Text prompts need it; with ids, a broken tokenizer only costs text.
    if (!loaded && (!flags.prompts.empty() || !flags.tokenizerDir.empty()))
      return fail(loaded.status().message());
    if (loaded)
      tokenizer = loaded.take();
  }
#endif
  if (!flags.prompts.empty()) {
#ifdef ROSE_HAVE_TOKENIZER
    if (!tokenizer)
      return fail(flags.programPath +
                  ": no tokenizer recorded (compile from a checkpoint "
                  "directory with one, or give --tokenizer DIR)");
    for (const std::string &text : flags.prompts) {
      auto ids = tokenizer->encode(text);
      if (!ids)
        return fail(ids.status().message());
      if (req.batch > 0 &&
          static_cast<int64_t>(ids->size()) != req.promptLength)
        return fail("--prompt: prompts of " + std::to_string(req.promptLength) +
                    " and " + std::to_string(ids->size()) +
                    " tokens; batches of prompts of different lengths are "
                    "not supported yet");
      req.promptLength = ids->size();
      req.prompts.insert(req.prompts.end(), ids->begin(), ids->end());
      ++req.batch;
    }
#else
    return fail("--prompt: this rose-run was built without the tokenizer "
                "(install libpcre2-dev and reconfigure)");
#endif
  } else if (!flags.tokensPath.empty()) {
    auto tokens = readTokensNpy(flags.tokensPath, req.batch, req.promptLength);
    if (!tokens)
      return fail(tokens.status().message());
    req.prompts = tokens.take();
  } else {
    // --prompt-ids 1,2,3;4,5,6: one sequence per ';'.
    std::stringstream rows(flags.promptIds);
    std::string row;
    while (std::getline(rows, row, ';')) {
      std::vector<int64_t> ids;
      std::stringstream items(row);
      std::string item;
      while (std::getline(items, item, ',')) {
        char *end = nullptr;
        long long v = std::strtoll(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0')
          return fail("--prompt-ids: '" + item + "' is not an integer");
        ids.push_back(v);
      }
      if (ids.empty())
        return fail("--prompt-ids: an empty sequence");
      if (req.batch > 0 && static_cast<int64_t>(ids.size()) != req.promptLength)
        return fail("--prompt-ids: sequences of " +
                    std::to_string(req.promptLength) + " and " +
                    std::to_string(ids.size()) +
                    " tokens; batches of prompts of different lengths are "
                    "not supported yet");
      req.promptLength = ids.size();
      req.prompts.insert(req.prompts.end(), ids.begin(), ids.end());
      ++req.batch;
    }
    if (req.batch == 0)
      return fail("--prompt-ids: no ids");
  }
  if (Status s = checkGenerateRequest(**program, req); !s.ok())
    return fail(s.message());

  std::string weightsFile = flags.weightsPath.empty()
                                ? (*program)->root().weights()->str()
                                : flags.weightsPath;
  auto weights = WeightFiles::open(weightsFile, /*populate=*/true);
  if (!weights)
    return fail(weights.status().message());
  req.weights = *weights;

  // Streaming: one sequence's text (or ids) as each token comes.
  const bool show = reports && !flags.quiet;
  std::vector<int64_t> ids0(req.prompts.begin(),
                            req.prompts.begin() + req.promptLength);
  TextStream stream;
  bool streamedIds = false;
  std::string promptText;
#ifdef ROSE_HAVE_TOKENIZER
  if (tokenizer) {
    auto text = tokenizer->decode(ids0);
    if (text)
      promptText = *text;
  }
#endif
  if (show && req.batch == 1) {
#ifdef ROSE_HAVE_TOKENIZER
    if (tokenizer) {
      stream.show(promptText);
      req.onStep = [&](const std::vector<int64_t> &tokens,
                       const std::vector<bool> &stopped) {
        if (stopped[0])
          return;
        ids0.push_back(tokens[0]);
        auto text = tokenizer->decode(ids0);
        if (text)
          stream.show(*text);
      };
    }
#endif
    if (!req.onStep)
      req.onStep = [&](const std::vector<int64_t> &tokens,
                       const std::vector<bool> &stopped) {
        if (!stopped[0])
          std::cout << tokens[0] << " " << std::flush;
        streamedIds = true;
      };
  }
  auto result = generate(**program, req);
  if (!result) {
    // End the streamed line, if any, before the error.
    if (!stream.text().empty() || streamedIds)
      std::cout << "\n";
    return fail(result.status().message());
  }
  if (!flags.outTokens.empty() && reports)
    if (Status s = writeInt64Npy(flags.outTokens, result->tokens.data(),
                                 {req.batch, result->steps});
        !s.ok())
      return fail(s.message());
  if (!show)
    return 0;
  if (req.batch == 1) {
    std::cout << "\n";
  } else {
    // Each sequence's text (prompt and continuation), or its ids.
    for (int64_t b = 0; b < req.batch; ++b) {
      std::cout << "sequence " << b << ":";
      std::vector<int64_t> ids(req.prompts.begin() + b * req.promptLength,
                               req.prompts.begin() +
                                   (b + 1) * req.promptLength);
      for (int64_t s = 0; s < result->lengths[b]; ++s)
        ids.push_back(result->tokens[b * result->steps + s]);
      std::optional<std::string> text;
#ifdef ROSE_HAVE_TOKENIZER
      if (tokenizer)
        if (auto decoded = tokenizer->decode(ids))
          text = *decoded;
#endif
      if (text)
        std::cout << " " << *text;
      else
        for (size_t s = req.promptLength; s < ids.size(); ++s)
          std::cout << " " << ids[s];
      std::cout << "\n";
    }
  }
  if (!result->stoppedEarly.empty())
    std::cout << "stopped after " << result->steps
              << " tokens: " << result->stoppedEarly << "\n";
  const Entry main = (*program)->main();
  for (uint32_t a = 0; a < main.program->mesh()->size(); ++a)
    std::cout << (a ? " x " : "") << main.program->mesh()->Get(a)->name()->str()
              << "=" << main.axisSize(a);
  double perSequence = result->decodeSeconds > 0
                           ? result->decodeSteps / result->decodeSeconds
                           : 0.0;
  std::cout << std::fixed << std::setprecision(1) << ", batch " << req.batch
            << ": prefill " << req.promptLength << " tokens in "
            << result->prefillSeconds * 1e3 << " ms; decode "
            << result->decodeSteps << " steps in "
            << result->decodeSeconds * 1e3 << " ms: " << perSequence
            << " tokens/s per sequence, " << perSequence * req.batch
            << " tokens/s overall; KV cache " << result->cacheBytesPerRank
            << " bytes per rank";
  if (result->graphSteps > 0)
    std::cout << "; " << result->graphSteps << " decode steps as CUDA graphs";
  std::cout << "\n";
  return 0;
}
