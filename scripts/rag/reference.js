#!/usr/bin/env node
// The TF.js reference for src/rag (@energetic-ai/embeddings on @energetic-ai/core, WASM backend),
// run offline over the model that scripts/rag-setup.sh fetched. It regenerates the golden vectors
// the C tests compare against, and times the same sentences as the C benchmark for its baseline.
//
//   node scripts/rag/reference.js golden [OUT]      writes tests/rag/golden_use_lite.bin (default)
//   node scripts/rag/reference.js bench FILE REPS   times FILE's sentences, prints JSON on stdout
//   node scripts/rag/reference.js embed TEXT...     tokens and first values, for debugging
//
// Environment: AW_RAG_MODEL_DIR and AW_RAG_NODE_DIR as in scripts/rag-setup.sh.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const cacheDir = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'astraweave');
const modelDir = process.env.AW_RAG_MODEL_DIR || path.join(cacheDir, 'models', 'use-lite-0.2.0');
const nodeDir = process.env.AW_RAG_NODE_DIR || path.join(cacheDir, 'node-ref');

function load(name) {
  try {
    return require(require.resolve(name, { paths: [nodeDir] }));
  } catch (err) {
    console.error(`reference: cannot load ${name} from ${nodeDir}: run scripts/rag-setup.sh`);
    process.exit(3);
  }
}

async function initModel() {
  const core = load('@energetic-ai/core');
  const embeddings = load('@energetic-ai/embeddings');
  if (!fs.existsSync(path.join(modelDir, 'model.json'))) {
    console.error(`reference: no model in ${modelDir}: run scripts/rag-setup.sh`);
    process.exit(3);
  }
  const source = async () => ({
    model: await core.loadGraphModel(`file://${path.join(modelDir, 'model.json')}`),
    vocabulary: JSON.parse(fs.readFileSync(path.join(modelDir, 'vocab.json'), 'utf8')),
  });
  const model = await embeddings.initModel(source);
  return { core, model };
}

// One text alone, as a caller of the reference would embed it. The reference cannot embed an
// empty text alone (an empty sparse tensor) and drops a trailing empty one from a batch, so an
// empty text is embedded as the first row of a two-row batch: that row is what the graph computes
// for a text with no tokens.
async function embedOne(model, text) {
  if (model.tokenizer.encode(text).length === 0) return (await model.embed([text, 'x']))[0];
  return (await model.embed([text]))[0];
}

// ---------------------------------------------------------------- golden sentences

function goldenSentences() {
  const s = [
    '',
    ' ',
    '   ',
    'a',
    'I',
    'Hello',
    'hello world',
    'Hello, world!',
    'The quick brown fox jumps over the lazy dog.',
    'the quick brown fox jumps over the lazy dog',
    'THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG',
    'How old are you?',
    'What is your age?',
    'The guard spotted an intruder near the north gate.',
    'An enemy was seen close to the northern entrance.',
    'I like to eat apples and bananas.',
    'The weather is lovely today.',
    'Remember where you hid the treasure chest.',
    'The blacksmith forged a new sword for the knight.',
    'Retreat to the castle if your health drops below 30%.',
    'Attack the nearest goblin, then heal the party.',
    'Patrol route: waypoint A -> waypoint B -> waypoint C.',
    'She sells sea shells by the sea shore.',
    'To be, or not to be, that is the question.',
    'All your base are belong to us.',
    'Do androids dream of electric sheep?',
    'The mitochondria is the powerhouse of the cell.',
    'Python, C, C++, Rust and Go are programming languages.',
    'e = mc^2',
    '2 + 2 = 4',
    '3.14159265358979323846',
    '1234567890',
    '0',
    '007',
    'Call me at 555-0123 or +1 (555) 010-9999.',
    'The meeting is at 10:30 on 2024-05-17.',
    'It costs $19.99, or €18,50, or £16.',
    'Version 1.2.3-rc.4+build.5',
    'IPv4 192.168.0.1, IPv6 ::1',
    'https://example.org/path?query=1&x=y#frag',
    'user@example.com',
    '#hashtag @mention',
    'C:\\Windows\\System32',
    '/usr/local/bin/aw-rag --json -',
    'snake_case camelCase PascalCase kebab-case',
    'ALL CAPS SHOUTING!!!',
    '...',
    '?!?!',
    '!!!',
    '"Quoted," she said. \'Single quotes\' too.',
    '(parentheses) [brackets] {braces} <angles>',
    'semi;colon:colon,comma.period',
    'tab\tseparated\tvalues',
    'line one\nline two\nline three',
    'carriage\r\nreturn',
    '  leading spaces',
    'trailing spaces   ',
    'double  spaces  between  words',
    ':30',
    ':00',
    'See you at 9:30 or 10:00 :)',
    'Sad face :( and smile :-) and url ://',
    '”5 stars”',
    'Ünïcödé täxt wïth ümläüts',
    'Café, naïve, résumé, façade, coöperate',
    'cafe\u0301 (combining acute accent)',
    'Straße, Maß, Fuß',
    'El niño juega en el jardín.',
    '¿Dónde está la biblioteca?',
    'Je ne sais pas pourquoi.',
    'Ich bin ein Berliner.',
    'Привет, как дела?',
    'Γειά σου Κόσμε',
    'שלום עולם',
    'مرحبا بالعالم',
    'नमस्ते दुनिया',
    '你好，世界',
    '我喜欢吃苹果。',
    'こんにちは世界',
    'カタカナ ｶﾀｶﾅ',
    '안녕하세요 세계',
    '\u1100\u1161\u11A8 (conjoining jamo)',
    'ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ １２３',
    'ﬁne ﬂower ﬀ ligatures',
    'x² + y³ = z⁴',
    '½ cup of sugar, ¼ teaspoon salt',
    '① ② ③ circled numbers',
    'Ⅻ Roman numerals Ⅳ',
    '㎏ ㎞ ㎡ units',
    '™ © ®',
    'no\u00A0break\u00A0space',
    'zero\u200Bwidth\u200Bspace',
    'em — dash – en dash - hyphen',
    '“curly quotes” and ‘single ones’',
    '… ellipsis character',
    'emoji 😀 🚀 🎉',
    '👍',
    '👨‍👩‍👧‍👦 family',
    '🏳️‍🌈 flag',
    '∑ ∫ √ ∞ ≠ ≤ ≥',
    '→ ← ↑ ↓',
    '♠ ♥ ♦ ♣',
    '\uFFFD replacement char',
    'control\u0001chars\u007f',
    'a'.repeat(300),
    'supercalifragilisticexpialidocious',
    'pneumonoultramicroscopicsilicovolcanoconiosis',
    'Antidisestablishmentarianism is a long word.',
    'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbb',
    'xyzzy plugh qwerty asdf zxcv',
    'lorem ipsum dolor sit amet, consectetur adipiscing elit',
  ];

  // Long texts past the model's 128-token limit: only their first 128 tokens count.
  const story = 'The old lighthouse keeper climbed the winding stairs every night, carrying a lantern, ' +
    'a notebook and a flask of tea. He wrote down every ship that passed, the direction of the wind, ' +
    'and the colour of the sky at dusk. ';
  s.push(story.repeat(3));
  s.push(story.repeat(8));
  s.push(('word ').repeat(200));
  s.push(('1 2 3 4 5 6 7 8 9 10 ').repeat(20));
  s.push('Ünïcödé '.repeat(60));
  s.push('日本語のテキスト。'.repeat(40));
  s.push('!'.repeat(500));
  s.push(('The agent remembers that the bridge collapsed after the storm, so it plans a route ' +
          'through the forest instead, avoiding the wolves near the river. ').repeat(4));

  // Deterministic generated sentences: an agent-memory flavoured mix of words, numbers and
  // punctuation, so the set covers ordinary text well beyond the hand-written cases.
  let seed = 0x2545f491;
  const rnd = (n) => {
    seed ^= seed << 13; seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5; seed >>>= 0;
    return seed % n;
  };
  const subjects = ['The guard', 'A merchant', 'The dragon', 'My companion', 'The villager', 'An orc scout',
                    'The player', 'Captain Rhea', 'The healer', 'A wandering bard', 'The mayor', 'Our squad'];
  const verbs = ['saw', 'attacked', 'traded with', 'followed', 'ignored', 'helped', 'warned', 'chased',
                 'spoke to', 'hid from', 'rescued', 'betrayed'];
  const objects = ['the stranger', 'a wolf pack', 'the blacksmith', 'two bandits', 'the old wizard',
                   'a lost child', 'the royal courier', 'three goblins', 'the innkeeper', 'a giant spider'];
  const places = ['near the well', 'at the market', 'in the dark forest', 'by the river', 'on the bridge',
                  'inside the tavern', 'behind the mill', 'under the castle walls', 'at dawn', 'last night'];
  const tails = ['.', '!', '?', '...', ' yesterday.', ' again.', ', twice.', ' at 12:45.', ' (day 37).',
                 ' for 150 gold.', ' - unclear why.', ', then left.'];
  while (s.length < 240) {
    const n = rnd(4);
    let t = `${subjects[rnd(subjects.length)]} ${verbs[rnd(verbs.length)]} ${objects[rnd(objects.length)]}`;
    if (n > 0) t += ` ${places[rnd(places.length)]}`;
    t += tails[rnd(tails.length)];
    if (n === 3) t = t.toLowerCase();
    if (rnd(5) === 0) t += ` Score: ${rnd(100000)}.`;
    s.push(t);
  }
  return s;
}

// Layout (little endian): "AWRGOLD1", u32 count, u32 dim, u32 reserved 0; then per entry
// u32 text bytes, UTF-8 text, u32 token count, i32 tokens (the reference tokenizer's ids),
// f32 x dim embedding.
async function golden(out) {
  const { model } = await initModel();
  const sentences = goldenSentences();
  const parts = [];
  const header = Buffer.alloc(20);
  header.write('AWRGOLD1', 0, 'latin1');
  header.writeUInt32LE(sentences.length, 8);
  header.writeUInt32LE(512, 12);
  header.writeUInt32LE(0, 16);
  parts.push(header);
  for (const text of sentences) {
    const bytes = Buffer.from(text, 'utf8');
    const tokens = model.tokenizer.encode(text);
    const emb = await embedOne(model, text);
    if (emb.length !== 512) throw new Error(`embedding of ${JSON.stringify(text)} has ${emb.length} values`);
    const b = Buffer.alloc(4 + bytes.length + 4 + 4 * tokens.length + 4 * 512);
    let o = b.writeUInt32LE(bytes.length, 0);
    o += bytes.copy(b, o);
    o = b.writeUInt32LE(tokens.length, o);
    for (const t of tokens) o = b.writeInt32LE(t, o);
    for (const v of emb) o = b.writeFloatLE(v, o);
    parts.push(b);
  }
  fs.writeFileSync(out, Buffer.concat(parts));
  console.error(`reference: ${sentences.length} golden vectors in ${out}`);
}

// ---------------------------------------------------------------- timing

function median(xs) {
  const v = xs.slice().sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// FILE: first line the short sentence, the rest the batch, one sentence per line. Prints
// {"single_ms":[median per rep], "batch_per_s":[one per rep]}: the same figures bench_embed.c
// measures for the C encoder, so their ratio compares like with like.
async function bench(file, reps) {
  const { core, model } = await initModel();
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  const short = lines[0];
  const batch = lines.slice(1);
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  for (let i = 0; i < 5; i++) await model.embed([short]);
  await model.embed(batch.slice(0, 16));
  const single = [];
  const perS = [];
  for (let r = 0; r < reps; r++) {
    const t = [];
    for (let i = 0; i < 15; i++) {
      const t0 = now();
      await model.embed([short]);
      t.push(now() - t0);
    }
    single.push(median(t));
    const t0 = now();
    await model.embed(batch);
    perS.push(batch.length / ((now() - t0) / 1000));
  }
  process.stdout.write(JSON.stringify({ backend: core.getBackend(), single_ms: single, batch_per_s: perS }) + '\n');
}

async function embedCmd(texts) {
  const { model } = await initModel();
  for (const t of texts) {
    const e = await embedOne(model, t);
    console.log(JSON.stringify({ text: t, tokens: model.tokenizer.encode(t), first: e.slice(0, 8) }));
  }
}

async function main() {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'golden') {
    await golden(args[0] || path.join(__dirname, '..', '..', 'tests', 'rag', 'golden_use_lite.bin'));
  } else if (cmd === 'bench' && args.length === 2) {
    await bench(args[0], Math.max(1, parseInt(args[1], 10) || 1));
  } else if (cmd === 'embed') {
    await embedCmd(args);
  } else {
    console.error('usage: reference.js golden [OUT] | bench FILE REPS | embed TEXT...');
    process.exit(2);
  }
}

main().catch((err) => {
  console.error(`reference: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
