import { serve } from './serve.js';

// `npm start`: the server's only reader of process.env.
await serve(process.env);
