"""Prompt sets for generative models, written for lumos (public domain): what the report of a causal language
model and ``lumos evaluate`` continue and explain by default."""

from __future__ import annotations

__all__ = ["PROMPT_SETS"]

#: Named prompt sets. "demo-prompts": short prompts whose continuations lean on a few words of the prompt (a
#: fact, an agreement, a name to repeat, an instruction), so that attributions have something to find.
PROMPT_SETS: dict[str, tuple[str, ...]] = {
    "demo-prompts": (
        "The capital of France is",
        "Alice gave Bob a book because she had already read it. The person who read the book is",
        "The keys to the old cabinet in the kitchen",
        "Translate to French: The cat sleeps on the red chair.",
        "Tom is taller than Jack, and Jack is taller than Sam. The shortest of the three is",
        "When water is heated to 100 degrees Celsius at sea level, it",
        "List three primary colours: red, blue and",
        "My flight to Denver was delayed for four hours, so I missed my meeting. I felt",
    ),
}
