"""gitdeploy.live"""
