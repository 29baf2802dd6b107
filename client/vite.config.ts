import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: { "/api": "http://127.0.0.1:3000", "/socket.io": { target: "http://127.0.0.1:3000", ws: true } },
  },
  build: { outDir: "dist", sourcemap: true },
});
