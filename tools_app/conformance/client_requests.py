"""Fixtures that need requests from the server to the client: they come with issue 11.

The suite calls these, and they cannot be written honestly until the server can
ask the client something mid-call (a server-to-client request on the POST stream
in the stateful era; an `input_required` result with `inputRequests` and a
verified `requestState` in 2026-07-28):

- `test_sampling(prompt)`: `sampling/createMessage` (`messages: [user text prompt]`,
  `maxTokens: 100`), then text `"LLM response: <text>"` (tools-call-sampling).
- `test_elicitation(message)`: `elicitation/create`, then
  `"User response: action=..., content=..."` (tools-call-elicitation).
- `test_elicitation_sep1034_defaults`: a form with defaults (name "John Doe", age 30,
  score 95.5, status enum [active, inactive, pending] defaulting to "active", verified
  true), then `"Elicitation completed: action=..., content=..."`.
- `test_elicitation_sep1330_enums`: the five enum shapes of SEP-1330, same answer text.
- 2026-07-28: `test_input_required_result_{elicitation, sampling, list_roots,
  request_state, multiple_inputs, multi_round, tampered_state, capabilities}` and the
  prompt `test_input_required_result_prompt` (see the notes, section 2.3).

Nothing is registered here until then: a stub that answered without asking the
client would pass nothing honestly and hide the gap. The scenarios that need them
are listed in tests/conformance_expected_failures.yaml, each with the issue that
removes it.
"""
