// Moved to test/support/fake-hub.ts (shared by lifecycle, data and training tests).
export * from "../../../../test/support/fake-hub.ts";
