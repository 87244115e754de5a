// Talks to a Parapet gateway with the official OpenAI Node.js client, unchanged.
//   NODE_EXTRA_CA_CERTS=/path/to/parapet.crt PARAPET_API_KEY=pk-... \
//     node examples/client.mjs https://127.0.0.1:8443 stories260K
// (npm install openai first, or run it from tests/integration where setup installed it.)
import OpenAI from 'openai';

const [baseUrl = 'https://127.0.0.1:8443', model = 'stories260K'] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: process.env.PARAPET_API_KEY ?? 'none' });

const stream = await client.chat.completions.create({
  model,
  messages: [{ role: 'user', content: 'Tell me a story about a brave little dog.' }],
  max_tokens: 80,
  stream: true,
});
for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? '');
process.stdout.write('\n');
