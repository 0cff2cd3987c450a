"""gitdeploy.spec"""
