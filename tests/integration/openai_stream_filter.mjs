// Streams one completion with the official `openai` npm package and prints what an application
// sees as one JSON line: the text, the last finish_reason and the policy's content filter result.
// Usage: node openai_stream_filter.mjs BASE_URL MODEL PROMPT MAX_TOKENS
// (trust the server's certificate with NODE_EXTRA_CA_CERTS). Exits non-zero if the stream does
// not end normally.
import OpenAI from 'openai';

const [baseUrl, model, prompt, maxTokens] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });

const stream = await client.completions.create({
  model,
  prompt,
  max_tokens: Number(maxTokens),
  temperature: 0,
  stream: true,
  stream_options: { include_usage: true },
});
let text = '';
let finishReason = null;
let filter = null;
let usage = null;
for await (const chunk of stream) {
  for (const choice of chunk.choices) {
    text += choice.text ?? '';
    if (choice.finish_reason) finishReason = choice.finish_reason;
    if (choice.content_filter_results) filter = choice.content_filter_results;
  }
  if (chunk.usage) usage = chunk.usage;
}
console.log(JSON.stringify({ text, finish_reason: finishReason, filter, usage }));
