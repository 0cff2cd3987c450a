"""gitdeploy.forge"""
