"""gitdeploy.plan"""
