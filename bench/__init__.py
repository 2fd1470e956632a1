"""The benchmarks (`make bench`): harnesses that drive smsdesk against the sandbox
provider and measure it. Not part of the product: nothing in the apps imports them.

- `bench.sync`: how fast codes reach the portal, what that costs upstream, and
  what the live board costs (docs/BENCHMARKS.md);
- `bench.catalog` (`--catalog`): a catalogue sync at a live provider's size.
"""
