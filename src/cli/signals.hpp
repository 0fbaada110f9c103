// What the tool does when a signal ends it. Interrupted (SIGINT, SIGTERM,
// SIGHUP): the hidden temporaries of unfinished outputs are removed, then the
// process ends by the same signal, as a shell expects. SIGBUS in a mapped
// input (another process truncated it under the command): the file is named,
// temporaries are removed, and the exit status is 1 (diff: 3), never a signal.
#pragma once

namespace safeweights_cli {

// Installs the handlers; signals the caller ignores (SIGHUP under nohup)
// stay ignored.
void install_signal_handlers();

// The exit status after a shrunk input is reported: 1 unless set (diff sets
// exit_cannot_compare, its 1 meaning "the files differ").
void set_changed_input_status(int status);

}  // namespace safeweights_cli
