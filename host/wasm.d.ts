declare module '*.wasm' {
  // The kernel module, base64 (esbuild's base64 loader).
  const base64: string;
  export default base64;
}
