"""gitdeploy.heal"""
