// Feeds gen_fixtures output to the official `openai` npm client through a local HTTP server and
// checks that the client parses every shape: non-stream and streamed chat (incl. the usage chunk
// with empty choices and the accumulating stream helper), legacy completions with echo logprobs,
// the models list, and an error body (BadRequestError with param and code). Run by run.sh.
import http from 'node:http';
import fs from 'node:fs';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const files = {
  '/v1/chat/completions': (body) => body.stream ? ['text/event-stream', 'chat_stream.txt'] : ['application/json', 'chat.json'],
  '/v1/completions': (body) => body.stream ? ['text/event-stream', 'completion_stream.txt'] : ['application/json', 'completion.json'],
  '/v1/models': () => ['application/json', 'models.json'],
};
const server = http.createServer((req, res) => {
  let data = '';
  req.on('data', (c) => (data += c));
  req.on('end', () => {
    const body = data ? JSON.parse(data) : {};
    if (body.n === 2) {
      res.writeHead(400, { 'content-type': 'application/json' });
      return res.end(fs.readFileSync('error.json'));
    }
    const [type, file] = files[req.url](body);
    res.writeHead(200, { 'content-type': type });
    res.end(fs.readFileSync(file));
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const client = new OpenAI({ apiKey: 'pk-test', baseURL: `http://127.0.0.1:${server.address().port}/v1`, maxRetries: 0 });

const chat = await client.chat.completions.create({ model: 'mixtral', messages: [{ role: 'user', content: 'hi' }], logprobs: true, top_logprobs: 2 });
assert.equal(chat.choices[0].message.content, 'Hello €!');
assert.equal(chat.choices[0].logprobs.content[1].token, 'bytes:\\x20\\xe2\\x82');
assert.deepEqual(chat.choices[0].logprobs.content[1].bytes, [32, 226, 130]);
assert.equal(chat.usage.total_tokens, 14);

const stream = await client.chat.completions.create({ model: 'mixtral', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
let text = ''; let finish = null; let usage = null; let n = 0;
for await (const chunk of stream) {
  n++;
  if (chunk.choices.length) { text += chunk.choices[0].delta.content ?? ''; finish = chunk.choices[0].finish_reason ?? finish; }
  if (chunk.usage) usage = chunk.usage;
}
assert.equal(n, 5); assert.equal(text, 'Hello world'); assert.equal(finish, 'content_filter'); assert.equal(usage.completion_tokens, 2);

// The accumulating stream helper (stricter: merges deltas and logprobs into a final completion).
const helper = client.beta?.chat?.completions?.stream ?? client.chat.completions.stream;
const runner = helper.call(client.beta?.chat?.completions ?? client.chat.completions, { model: 'mixtral', messages: [{ role: 'user', content: 'hi' }], stream_options: { include_usage: true } });
const final = await runner.finalChatCompletion();
assert.equal(final.choices[0].message.content, 'Hello world');
assert.equal(final.choices[0].finish_reason, 'content_filter');
assert.equal(final.choices[0].logprobs.content.length, 2);
assert.equal(final.usage.total_tokens, 12);

const comp = await client.completions.create({ model: 'mixtral', prompt: [1, 2], echo: true, logprobs: 1, max_tokens: 0 });
assert.equal(comp.choices[0].logprobs.token_logprobs[0], null);
assert.deepEqual(comp.choices[0].logprobs.text_offset, [0, 3, 7]);
const cstream = await client.completions.create({ model: 'mixtral', prompt: 'x', stream: true, stream_options: { include_usage: true } });
let ctext = ''; let cn = 0;
for await (const chunk of cstream) { cn++; if (chunk.choices.length) ctext += chunk.choices[0].text; }
assert.equal(cn, 3); assert.equal(ctext, ' sat');

const models = [];
for await (const m of client.models.list()) models.push(m.id);
assert.deepEqual(models, ['mixtral']);

try {
  await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], n: 2 });
  assert.fail('expected an error');
} catch (e) {
  assert.ok(e instanceof OpenAI.BadRequestError, String(e));
  assert.equal(e.status, 400); assert.equal(e.param, 'n'); assert.equal(e.code, 'unsupported_parameter');
  console.log('error message:', e.message);
}
console.log('openai client: all checks passed');
server.close();
