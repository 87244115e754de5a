// Drives a running Parapet gateway with the official `openai` npm package, as an application
// would. Usage: node openai_client.mjs BASE_URL MODEL API_KEY [--expect-auth]
// (trust the server's certificate with NODE_EXTRA_CA_CERTS). Prints one line per check and exits
// non-zero on the first failure.
import OpenAI from 'openai';

const [baseUrl, model, apiKey, ...flags] = process.argv.slice(2);
const expectAuth = flags.includes('--expect-auth');
const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey, maxRetries: 0, timeout: 60000 });

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

async function main() {
  const models = await client.models.list();
  check(models.data.some((m) => m.id === model), `/v1/models lists ${model}`);
  console.log(`ok models: ${models.data.map((m) => m.id).join(',')}`);

  const chat = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Tell me a story about a cat.' }],
    max_tokens: 16,
    temperature: 0,
  });
  check(chat.object === 'chat.completion', 'chat.completion object');
  check(typeof chat.choices[0].message.content === 'string', 'message content');
  check(['stop', 'length'].includes(chat.choices[0].finish_reason), 'finish_reason');
  check(chat.usage.completion_tokens > 0, 'usage.completion_tokens > 0');
  console.log(`ok chat: ${JSON.stringify(chat.choices[0].message.content)}`);

  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Tell me a story about a cat.' }],
    max_tokens: 16,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.choices.length > 0) {
      text += chunk.choices[0].delta.content ?? '';
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  check(text === chat.choices[0].message.content, 'greedy stream text equals the non-stream text');
  check(finish === chat.choices[0].finish_reason, 'stream finish_reason');
  check(usage && usage.completion_tokens === chat.usage.completion_tokens, 'stream usage');
  console.log(`ok stream: ${chunks} chunks`);

  const completion = await client.completions.create({
    model,
    prompt: 'Once upon a time',
    max_tokens: 8,
    temperature: 0,
    logprobs: 2,
  });
  check(completion.object === 'text_completion', 'text_completion object');
  check(completion.choices[0].logprobs.tokens.length === completion.usage.completion_tokens,
        'one logprob per completion token');
  console.log(`ok completion: ${JSON.stringify(completion.choices[0].text)}`);

  try {
    await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], n: 2 });
    check(false, 'n=2 is refused');
  } catch (e) {
    check(e instanceof OpenAI.BadRequestError && e.param === 'n', `n=2 -> 400 param n (${e})`);
  }
  console.log('ok bad request: 400 param n');

  if (expectAuth) {
    const wrong = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: 'pk-wrong', maxRetries: 0 });
    try {
      await wrong.models.list();
      check(false, 'a wrong key is refused');
    } catch (e) {
      check(e instanceof OpenAI.AuthenticationError, `wrong key -> 401 (${e})`);
    }
    console.log('ok auth: wrong key -> 401');
  }
}

main().then(
  () => console.log('all ok'),
  (e) => {
    console.error(`FAILED: ${e.stack ?? e}`);
    process.exit(1);
  },
);
