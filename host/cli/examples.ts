// The MNIST demos and example trainers: what the CLI, scripts/, examples/ and the tests use, built
// to dist/examples.js. Not part of the package's exports ('edgetune', 'edgetune/node',
// 'edgetune/core'): the library does not ship a dataset or a demo as API.
export { loadBundledMnist, loadMnist, selectDigits, type Digits } from './mnist';
export { runDemo, trainBase, baseModel, cnnBaseModel, BASE_MODEL_PATH, CNN_BASE_MODEL_PATH, type DemoResult, type TransferResult } from './demo';
export { mnistCnn, trainMnistCnn } from './cnn-example';
export { mnistData } from './wasi-files';
