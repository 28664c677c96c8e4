"""OCI Distribution Spec suite: pull, push, content discovery, content management."""
