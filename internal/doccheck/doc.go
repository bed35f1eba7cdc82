// Package doccheck holds a test that keeps the Go code blocks of the
// repository's README.md and CONTRIBUTING.md compiling against the
// current API: a block that names a function, type, field or method that
// no longer exists, or calls one with the wrong arguments, fails it.
//
// The blocks are fragments, not programs. The test puts each in a
// function of its own (or at package level, when it declares functions
// or types), imports the module's packages and the standard packages the
// blocks use by their names, reads a line "..." or a body "{ ... }" as
// "code left out", and gives the few names a fragment takes from the
// program around it (ctx, mb, cfg, src...) in a prelude. Unused variables
// and imports are allowed, as a fragment leaves them unused; every other
// type error fails the test, naming the file and line.
package doccheck
