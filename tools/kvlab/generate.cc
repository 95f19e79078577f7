// kvlab generate: text generation from a prompt, streamed to stdout; timings to stderr.
#include "kvlab/gen/generate.h"

#include <cstdio>
#include <sstream>

#include "cli_common.h"
#include "commands.h"
#include "kvlab/kv/registry.h"
#include "kvlab/tokenizer/model_chat_template.h"
#include "kvlab/util/error.h"

namespace kvlab::cli {

namespace {
struct GenerateArgs {
  ModelOptions model;
  std::string prompt;
  CLI::Option* prompt_option = nullptr;
  bool chat = false;
  std::string system;
  std::string messages_file;
  std::string chat_template_file;
  int32_t n_predict = 256;
  int32_t ctx = 0;
  bool no_bos = false;
  bool ignore_eos = false;
  bool print_ids = false;
  std::vector<std::string> stops;
  std::string kv = "full";
  SamplerConfig sampler;
};

// The conversation --chat renders: --system, then --messages FILE, then -p as the last user message.
nlohmann::ordered_json ChatMessages(const GenerateArgs& a) {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (!a.system.empty()) messages.push_back({{"role", "system"}, {"content", a.system}});
  if (!a.messages_file.empty()) {
    for (const auto& m : ChatTemplate::ParseMessagesFile(a.messages_file)) messages.push_back(m);
  }
  if (a.prompt_option->count() > 0) messages.push_back({{"role", "user"}, {"content", a.prompt}});
  if (messages.empty()) throw Error("--chat", "no messages: give -p TEXT and/or --messages FILE");
  return messages;
}

void Run(const GenerateArgs& a) {
  if (!a.chat && (!a.system.empty() || !a.messages_file.empty() || !a.chat_template_file.empty())) {
    throw Error(!a.system.empty()          ? "--system"
                : !a.messages_file.empty() ? "--messages"
                                           : "--chat-template",
                "only applies with --chat");
  }
  auto policy = MakePolicy(a.kv);  // bad specs fail before the model is loaded
  const nlohmann::ordered_json messages = a.chat ? ChatMessages(a) : nlohmann::ordered_json();
  auto model = LoadModelFromOptions(a.model);
  const ModelConfig& c = model->config();
  auto tokenizer = LoadTokenizerFromOptions(*model, a.model);
  std::vector<int32_t> prompt;
  std::vector<int32_t> stop_tokens;
  if (a.chat) {
    // As transformers' apply_chat_template(tokenize=True): the template writes BOS itself where the model
    // wants one, and its markup is special-token text (docs/TOKENIZERS.md on what that means for messages).
    const LoadedModel& m = model->loaded();
    const ChatTemplate chat = LoadModelChatTemplate({m.path, m.format, c.vocab_size}, *tokenizer,
                                                    a.model.tokenizer, a.chat_template_file);
    const std::string rendered = chat.Render(messages, /*add_generation_prompt=*/true);
    prompt = tokenizer->Encode(rendered, EncodeOptions{.add_special = false, .parse_special = true});
    stop_tokens = EndOfTurnTokens(*tokenizer, chat);
  } else {
    prompt = tokenizer->Encode(
        a.prompt, EncodeOptions{.add_special = !a.no_bos, .parse_special = a.model.parse_special});
  }
  if (prompt.empty()) {
    // A model without BOS (e.g. the char GPT-2) and an empty prompt: start from a newline if it can.
    prompt = tokenizer->Encode("\n", false);
  }
  if (prompt.empty()) throw Error("-p", "the prompt encodes to no tokens and the vocabulary has no BOS");
  const int32_t ctx = a.ctx > 0 ? a.ctx : c.max_seq_len;
  const bool bounded = policy->MaxSlots() != KvPolicy::kUnbounded;
  if (!bounded && static_cast<int32_t>(prompt.size()) > ctx) {
    throw Error("-p",
                "the prompt has " + std::to_string(prompt.size()) + " tokens, more than the context (" +
                    std::to_string(ctx) + ")",
                "raise -c");
  }
  GenerateOptions opts;
  policy->Bind(c.CacheShape());
  opts.policy = policy.get();
  KvCache cache(c.CacheShape(), RequiredCapacity(policy.get(), static_cast<size_t>(ctx), opts.prefill_batch),
                CacheCodecFor(policy.get()));
  opts.max_new_tokens = a.n_predict;
  opts.stop_at_eos = !a.ignore_eos;
  opts.stop_tokens = stop_tokens;
  opts.stop_strings = a.stops;
  opts.sampler = a.sampler;
  // Echo the prompt as the tokenizer sees it, then stream the continuation.
  std::string prompt_text;
  for (size_t i = 0; i < prompt.size(); ++i)
    prompt_text += tokenizer->DecodeToken(i ? prompt[i - 1] : -1, prompt[i]);
  std::fputs(prompt_text.c_str(), stdout);
  std::fflush(stdout);
  GenerateResult r = Generate(*model, tokenizer.get(), cache, prompt, opts, [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  });
  std::fputc('\n', stdout);
  if (a.print_ids) {
    std::ostringstream ids;
    for (size_t i = 0; i < r.tokens.size(); ++i) ids << (i ? " " : "") << r.tokens[i];
    std::printf("ids: %s\n", ids.str().c_str());
  }
  const double decode_tok_s = r.decode_ms > 0 ? 1000.0 * r.tokens.size() / r.decode_ms : 0;
  std::fprintf(stderr,
               "[kvlab] %zu prompt tokens in %.1f ms (%.1f tok/s), %zu generated in %.1f ms (%.1f tok/s), "
               "stop: %s, kv cache %zu bytes + %zu policy bytes (%s)\n",
               prompt.size(), r.prefill_ms, r.prefill_ms > 0 ? 1000.0 * prompt.size() / r.prefill_ms : 0.0,
               r.tokens.size(), r.decode_ms, decode_tok_s, r.stop_reason.c_str(), cache.Bytes(),
               policy->MetadataBytes(), policy->Spec().c_str());
}
}  // namespace

void AddGenerateCommand(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "generate text from a prompt");
  AddModelOptions(cmd, args->model);
  args->prompt_option = cmd->add_option("-p,--prompt", args->prompt,
                                        "prompt text (empty: start from BOS); with --chat, the user message");
  cmd->add_flag(
      "--chat", args->chat,
      "render the model's chat template (tokenizer_config.json, or the GGUF's) around the messages and "
      "stop at the end of the assistant's turn");
  cmd->add_option("--system", args->system, "with --chat: a system message before the others");
  cmd->add_option(
      "--messages", args->messages_file,
      "with --chat: a JSON list of {\"role\", \"content\"} messages (-p, if given, is appended as the "
      "last user message)");
  cmd->add_option("--chat-template", args->chat_template_file,
                  "with --chat: a Jinja template file to use instead of the model's own");
  cmd->add_option("-n,--n-predict", args->n_predict, "tokens to generate")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-c,--ctx-size", args->ctx, "context size in tokens (0: the model's trained context)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--kv", args->kv,
                  "KV-cache policy spec, e.g. \"h2o:budget=128,recent=32\" (see docs/POLICIES.md)")
      ->capture_default_str();
  cmd->add_option("--temp", args->sampler.temperature, "temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-k", args->sampler.top_k, "top-k (0: off)")->capture_default_str();
  cmd->add_option("--top-p", args->sampler.top_p, "top-p (1: off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", args->sampler.repeat_penalty, "repetition penalty (1: off)")
      ->capture_default_str();
  cmd->add_option("--repeat-last-n", args->sampler.repeat_last_n, "tokens the penalty looks back over")
      ->capture_default_str();
  cmd->add_option("-s,--seed", args->sampler.seed, "random seed")->capture_default_str();
  cmd->add_option("--stop", args->stops, "stop when the output contains this string (repeatable)");
  cmd->add_flag("--no-bos", args->no_bos, "do not prepend BOS to the prompt");
  cmd->add_flag("--ignore-eos", args->ignore_eos, "keep generating past EOS");
  cmd->add_flag("--print-ids", args->print_ids, "print the generated token ids after the text");
  cmd->callback([args] { Run(*args); });
}

}  // namespace kvlab::cli
