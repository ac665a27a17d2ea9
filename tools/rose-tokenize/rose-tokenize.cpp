//===- rose-tokenize.cpp - a checkpoint's tokenizer, from the shell -------===//
//
//   rose-tokenize DIR "text"          token ids, one line, space separated
//   rose-tokenize DIR --decode 1,2,3  the text those ids decode to
//
// The same tokenizer code rose-run uses (runtime/tokenizer/), for checking
// what a prompt becomes.
//
//===----------------------------------------------------------------------===//
#include "runtime/tokenizer/Tokenizer.h"

#include <CLI/CLI.hpp>

#include <iostream>

using namespace rose;

static int fail(const std::string &message) {
  std::cerr << "rose-tokenize: error: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  CLI::App app{"rose-tokenize: a checkpoint's tokenizer: text to ids, or "
               "ids to text"};
  std::string dir, text;
  std::vector<int64_t> decodeIds;
  app.add_option("dir", dir,
                 "Hugging Face directory (tokenizer.json, or vocab.json + "
                 "merges.txt)")
      ->required();
  auto *textOpt = app.add_option("text", text, "text to encode");
  auto *decodeOpt =
      app.add_option("--decode", decodeIds, "ids to decode: 1,2,3")
          ->delimiter(',');
  textOpt->excludes(decodeOpt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    if (e.get_exit_code() == 0)
      return app.exit(e);
    return fail(e.what());
  }
  if (!*textOpt && !*decodeOpt)
    return fail("give text to encode or --decode ids");
  auto tokenizer = Tokenizer::load(dir);
  if (!tokenizer)
    return fail(tokenizer.status().message());
  if (*decodeOpt) {
    auto decoded = (*tokenizer)->decode(decodeIds);
    if (!decoded)
      return fail(decoded.status().message());
    std::cout << *decoded;
    return 0;
  }
  auto ids = (*tokenizer)->encode(text);
  if (!ids)
    return fail(ids.status().message());
  for (size_t i = 0; i < ids->size(); ++i)
    std::cout << (i ? " " : "") << (*ids)[i];
  std::cout << "\n";
  return 0;
}
