"""The stack's `lsctl:` config, read from pulumi.Config through the shared loader."""

from __future__ import annotations

import pulumi

from linkshortening.config import NAMESPACE, STACK_KEYS, ConfigError, Stack, parse_stack


def load_from_pulumi() -> Stack:
    """Validate this stack's config exactly as `lsctl` validates the stack file."""
    config = pulumi.Config(NAMESPACE)
    values = {key: config.get_object(key) for key in STACK_KEYS}
    stack = pulumi.get_stack()
    source = f"stacks/Pulumi.{stack}.yaml"
    try:
        return parse_stack({k: v for k, v in values.items() if v is not None}, source, stack)
    except ConfigError as exc:
        # RunError: Pulumi prints the message alone, without a Python traceback.
        raise pulumi.RunError(str(exc)) from None
