// Moddable `crypt` (include $(MODULES)/crypt/digest/manifest.json): the streaming Digest class; npm @moddable/typings lacks it.
declare module "crypt" {
  export type DigestType = "MD5" | "SHA1" | "SHA224" | "SHA256" | "SHA384" | "SHA512";
  export class Digest {
    constructor(type: DigestType);
    /** Accepts a string, an ArrayBuffer or any view (the native side reads the view's own window). */
    write(message: string | ArrayBuffer | ArrayBufferView): void;
    /** Finishes and returns the digest; with `more` true the running state is kept for further writes. */
    close(more?: boolean): ArrayBuffer;
    /** Starts over with the same algorithm (no allocation). */
    reset(): void;
    readonly blockSize: number;
    readonly outputSize: number;
  }
}
