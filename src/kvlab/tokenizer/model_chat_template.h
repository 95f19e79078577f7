// The chat template that belongs to a model, found where its tokenizer is (see LoadTokenizer), and the
// tokens that end a chat turn.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "kvlab/tokenizer/chat_template.h"
#include "kvlab/tokenizer/tokenizer.h"

namespace kvlab {

// Where the template is looked for:
//   `template_file` if given (a Jinja file, e.g. for a base model that ships none);
//   else next to `tokenizer_override` if given (its directory's tokenizer_config.json, or its GGUF key);
//   else the model's own: GGUF tokenizer.chat_template, or the Hugging Face directory's
//   tokenizer_config.json / chat_template.jinja.
// A template from a file or a GGUF gets the tokenizer's BOS/EOS texts as bos_token/eos_token.
// Throws kvlab::Error naming what was looked at when there is no template.
ChatTemplate LoadModelChatTemplate(const TokenizerSource& model, const Tokenizer& tokenizer,
                                   const std::filesystem::path& tokenizer_override = {},
                                   const std::filesystem::path& template_file = {});

// The ids that end an assistant turn: the vocabulary's EOS, the template's eos_token, and the end-of-turn
// markers of today's families (<|eot_id|>, <|im_end|>, <end_of_turn>, <|end|>, ...) where the vocabulary
// has them as special tokens. Instruct models end a reply with these rather than with EOS.
std::vector<int32_t> EndOfTurnTokens(const Tokenizer& tokenizer, const ChatTemplate& chat);

}  // namespace kvlab
