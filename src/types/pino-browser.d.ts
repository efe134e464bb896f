// pino's lightweight build has the same API and options as the main entry (its types cover `browser`).
declare module 'pino/browser.js' {
  import pino from 'pino';
  export default pino;
}
