"""What a model file says about itself, read without executing it, and model-describing plug-ins."""
