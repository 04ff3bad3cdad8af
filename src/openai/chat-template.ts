/**
 * Chat messages → one prompt. A model's chat template is, in this order: the config parameter
 * `chat_template` (its string_value), or `chat_template` in a `tokenizer_config.json` in the
 * version folder or the model folder (Hugging Face's file; its bos_token and eos_token are passed
 * in too). It is rendered by @huggingface/jinja (the Jinja of transformers.js) with `messages`,
 * `add_generation_prompt: true`, `bos_token`, `eos_token`. A model without one gets the plain
 * format of plainChatPrompt (docs/openai.md).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { openaiChatTemplateFailed, openaiChatTemplateInvalid } from "../errors/index.js";
import type { ChatMessage } from "./request.js";

/** Where a model's files are: its folder, its version, and an object that changes on every (re)load. */
export interface ModelFiles {
  dir: string;
  version: string;
  /** The loaded version itself: compiled templates are cached per load, so a reload re-reads them. */
  identity: object;
}

interface CompiledTemplate {
  template: Template;
  bosToken: string;
  eosToken: string;
}

export const TOKENIZER_CONFIG = "tokenizer_config.json";

const ROLE_NAMES = { system: "System", user: "User", assistant: "Assistant" } as const;

/**
 * The format without a template: one line per message, `<Role>: <content>`, then `Assistant:`,
 * where the model's answer begins.
 */
export function plainChatPrompt(messages: readonly ChatMessage[]): string {
  let s = "";
  for (const m of messages) s += `${ROLE_NAMES[m.role]}: ${m.content}\n`;
  return s + "Assistant:";
}

export class ChatTemplates {
  readonly #cache = new WeakMap<object, CompiledTemplate | null>();

  /**
   * The prompt for `messages`. `configParameters` gives the model config's `parameters` (Triton's
   * JSON: `{ key: { string_value } }`), asked for only when the model's template is not cached yet
   * (the config's JSON is rebuilt per call); `files` is undefined for a model without a folder.
   */
  render(model: string, messages: readonly ChatMessage[], configParameters: () => unknown, files: ModelFiles | undefined): string {
    const compiled = this.#compiled(model, configParameters, files);
    if (compiled === null) return plainChatPrompt(messages);
    try {
      return compiled.template.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: true,
        bos_token: compiled.bosToken,
        eos_token: compiled.eosToken,
      });
    } catch (err) {
      throw openaiChatTemplateFailed(model, err);
    }
  }

  #compiled(model: string, configParameters: () => unknown, files: ModelFiles | undefined): CompiledTemplate | null {
    if (files && this.#cache.has(files.identity)) return this.#cache.get(files.identity)!;
    const compiled = compile(model, configParameters(), files);
    if (files) this.#cache.set(files.identity, compiled);
    return compiled;
  }
}

function compile(model: string, configParameters: unknown, files: ModelFiles | undefined): CompiledTemplate | null {
  const fromConfig = configString(configParameters, "chat_template");
  let source: { text: string; where: string; bos: string; eos: string } | null = null;
  if (fromConfig !== undefined) {
    source = {
      text: fromConfig, where: "config parameter chat_template",
      bos: configString(configParameters, "bos_token") ?? "", eos: configString(configParameters, "eos_token") ?? "",
    };
  } else if (files) {
    source = fromTokenizerConfig(model, [join(files.dir, files.version, TOKENIZER_CONFIG), join(files.dir, TOKENIZER_CONFIG)]);
  }
  if (source === null) return null;
  try {
    return { template: new Template(source.text), bosToken: source.bos, eosToken: source.eos };
  } catch (err) {
    throw openaiChatTemplateInvalid(model, source.where, err);
  }
}

function fromTokenizerConfig(model: string, paths: string[]): { text: string; where: string; bos: string; eos: string } | null {
  for (const path of paths) {
    if (!existsSync(path)) continue;
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw openaiChatTemplateInvalid(model, TOKENIZER_CONFIG, err);
    }
    const text = templateText(json.chat_template);
    if (text === undefined) return null;
    return { text, where: TOKENIZER_CONFIG, bos: tokenText(json.bos_token), eos: tokenText(json.eos_token) };
  }
  return null;
}

/** A string, or Hugging Face's list of named templates (the one named "default"). */
function templateText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    const named = value.find((t) => t && typeof t === "object" && t.name === "default") ?? value[0];
    if (named && typeof named.template === "string") return named.template;
  }
  return undefined;
}

/** A special token as tokenizer_config.json spells it: a string, or `{ "content": string }`. */
function tokenText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as { content?: unknown }).content === "string") {
    return (value as { content: string }).content;
  }
  return "";
}

function configString(parameters: unknown, key: string): string | undefined {
  if (!parameters || typeof parameters !== "object") return undefined;
  const entry = (parameters as Record<string, unknown>)[key];
  const value = entry && typeof entry === "object" ? (entry as { string_value?: unknown }).string_value : undefined;
  return typeof value === "string" ? value : undefined;
}
