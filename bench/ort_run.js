// Runs an ONNX model with ONNX Runtime (onnxruntime-node) on the CPU and
// times it: node ort_run.js MODEL TOKENS.bin BATCH SEQ THREADS REPEATS OUT.bin
// TOKENS.bin holds int64 ids; prints {"ms": [...]} (one warm-up run first)
// and writes the last run's logits as raw float32 to OUT.bin.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, tokensPath, batch, seq, threads, repeats, outPath] =
      process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const bytes = fs.readFileSync(tokensPath);
  const ids = new BigInt64Array(bytes.buffer, bytes.byteOffset,
                                bytes.length / 8);
  const feeds = {
    input_ids: new ort.Tensor('int64', ids, [Number(batch), Number(seq)]),
  };
  let out = await session.run(feeds);
  const ms = [];
  for (let i = 0; i < Number(repeats); ++i) {
    const t0 = process.hrtime.bigint();
    out = await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const logits = out.logits.data;
  fs.writeFileSync(outPath, Buffer.from(logits.buffer, logits.byteOffset,
                                        logits.byteLength));
  console.log(JSON.stringify({ms}));
}

main().catch((e) => {
  console.error(`ort_run: ${e.message}`);
  process.exit(1);
});
