"""gitdeploy.deploy"""
