// The flywheel's steps and the state machine built from them (see DESIGN.md, packages/pipeline).
export {};
